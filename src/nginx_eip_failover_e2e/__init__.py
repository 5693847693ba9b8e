"""The opt-in real-account end-to-end test (`make aws-e2e`, docs/aws-e2e.md).

It creates a throwaway pair (tests/e2e/aws/nodes.yaml: two small instances running stock nginx, an
Elastic IP), deploys the controller against it, runs the drill, stops nginx on the primary through
SSM, measures the failover, and deletes everything it created, even when a step fails.

- `account`: the refusal unless NGINX_EIP_FAILOVER_E2E_ACCOUNT names the credentials' account.
- `aws`: the one boto3 session (the standard environment, AWS_ENDPOINT_URL honoured) and its clients.
- `stacks`: the nodes stack (CloudFormation create, outputs, delete).
- `controller`: the controller's deployment as a port; `SamDeployment` is the real one (`sam deploy`).
- `nginx_stop`: stopping nginx on a node as a port; `SsmNginxStop` is the real one (SSM Run Command).
- `resources`: the bill-relevant resources the run created, whether each is gone, and their table.
- `run`: the orchestration (`run_e2e`), whose teardown runs in `finally`.

Nothing here imports the lab: the integration test (tests/integration/test_aws_e2e_orchestration.py)
runs `run_e2e` against the lab's moto server with lab implementations of the ports.
"""
