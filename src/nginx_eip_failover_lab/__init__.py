"""The local lab: a moto server as AWS, real nginx processes as the NGINX Plus nodes, and the real
handlers run in fresh processes as Lambda would run them. Development and demo use only.

    python -m nginx_eip_failover_lab [--quick]   the scripted demo (make demo)
    python -m nginx_eip_failover_lab up          a running lab for the CLI, until Ctrl-C

Modules: `invoke` (one handler invocation in a fresh process, with a `lambda_context` double),
`moto_server` and `account` (the lab's AWS), `nginx_node`, `aws_proxy` (records and fault-injects
the functions' AWS calls); the stack from template.yaml: `cfn_yaml` and `template` (reading it),
`intrinsics` (`!Ref`, `!Sub`, ... resolved), `provisioner` (its resources created in moto),
`triggers` (schedule input, alarms and their events), `fixtures` (the pair: instances and EIP);
`environment` (all of it as one `LabEnvironment`), `scheduler` (the schedule and alarms),
`timeline` and `scenario` (the demo), `processes` (every child stopped on exit).
"""
