"""Auto Scaling lifecycle hooks, which moto 5.x stores but never acts on, modelled as AWS does them.

Without this moto's TerminateInstanceInAutoScalingGroup terminates the instance at once whatever
hooks the group has, and CompleteLifecycleAction does not exist. As AWS does (Amazon EC2 Auto
Scaling User Guide, "Amazon EC2 Auto Scaling lifecycle hooks"):
- a group with an autoscaling:EC2_INSTANCE_TERMINATING hook puts the instance in Terminating:Wait
  (still running, no longer InService) with a lifecycle action token per hook;
- CompleteLifecycleAction (by LifecycleActionToken or InstanceId, for the group and hook) ends that
  hook's wait; once no hook waits, the instance is terminated and the group replaces it (unless
  ShouldDecrementDesiredCapacity), as moto's own termination does; ABANDON does the same for a
  terminating instance. An unknown token or instance is a ValidationError, as AWS answers.
The hook's HeartbeatTimeout is not run down (the lab's tests complete or fail before it).

`lifecycle_token(instance, hook)` is the token the model issues, so the lab can build the event
EventBridge would deliver. `apply()` patches moto for the life of the process (the lab's server);
listed in docs/reliability.md ("What moto does not check").
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moto.core.responses import ActionResult, EmptyResult

TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"
WAITING = "Terminating:Wait"
_NAMESPACE = uuid.UUID("6f1c1a52-8d7e-4a38-9a55-1f3c2d4b5e61")

# instance -> {hook name: token} of the hooks still waiting, and whether to decrement on termination
_waiting: dict[str, dict[str, str]] = {}
_decrement: dict[str, bool] = {}


def _validation_error(message: str) -> Exception:
    from moto.autoscaling.exceptions import ValidationError

    return ValidationError(message)


def lifecycle_token(instance_id: str, hook: str) -> str:
    """The LifecycleActionToken this model issues for `instance_id`'s wait on `hook`."""
    return str(uuid.uuid5(_NAMESPACE, f"{instance_id}/{hook}"))


def _state_of(backend: Any, instance_id: str) -> Any:
    for group in backend.autoscaling_groups.values():
        for state in group.instance_states:
            if state.instance.id == instance_id:
                return state
    raise _validation_error(f"Instance {instance_id} is not part of an Auto Scaling group")


def _terminate_instance_in_auto_scaling_group(self: Any) -> ActionResult:
    from moto.autoscaling.models import TerminateInstanceActivity
    from moto.core.responses import ActionResult

    backend = self.autoscaling_backend
    instance_id = self._get_param("InstanceId")
    decrement = self._get_bool_param("ShouldDecrementDesiredCapacity", False)
    state = _state_of(backend, instance_id)
    hooks = [
        hook
        for hook in backend.describe_lifecycle_hooks(state.auto_scaling_group_name)
        if hook.lifecycle_transition == TERMINATING
    ]
    if not hooks:
        original = state.auto_scaling_group.desired_capacity
        backend.detach_instances(state.auto_scaling_group_name, [instance_id], decrement)
        backend.ec2_backend.terminate_instances([instance_id])
        return ActionResult({"Activity": TerminateInstanceActivity(state.instance, original)})
    state.lifecycle_state = WAITING
    _waiting[instance_id] = {hook.name: lifecycle_token(instance_id, hook.name) for hook in hooks}
    _decrement[instance_id] = decrement
    return ActionResult(
        {"Activity": TerminateInstanceActivity(state.instance, state.auto_scaling_group.desired_capacity)}
    )


def _complete_lifecycle_action(self: Any) -> EmptyResult:
    from moto.core.responses import EmptyResult

    backend = self.autoscaling_backend
    group = self._get_param("AutoScalingGroupName")
    hook = self._get_param("LifecycleHookName")
    token = self._get_param("LifecycleActionToken")
    instance_id = self._get_param("InstanceId")
    result = self._get_param("LifecycleActionResult")
    if result not in ("CONTINUE", "ABANDON"):
        raise _validation_error(f"LifecycleActionResult {result!r} must be CONTINUE or ABANDON")
    if token:
        instance_id = next((i for i, hooks in _waiting.items() if hooks.get(hook) == token), None)
    if not instance_id or hook not in _waiting.get(instance_id, {}):
        raise _validation_error(f"No active Lifecycle Action found with token {token or instance_id}")
    state = _state_of(backend, instance_id)
    if state.auto_scaling_group_name != group:
        raise _validation_error(f"No active Lifecycle Action found in group {group}")
    del _waiting[instance_id][hook]
    if not _waiting[instance_id]:  # every hook has answered: the termination proceeds
        del _waiting[instance_id]
        backend.detach_instances(group, [instance_id], _decrement.pop(instance_id, False))
        backend.ec2_backend.terminate_instances([instance_id])
    return EmptyResult()


@contextmanager
def lifecycle_semantics() -> Iterator[None]:
    """The patches for the duration of a `with` (in-process adapter tests under mock_aws)."""
    from moto.autoscaling.responses import AutoScalingResponse

    saved = AutoScalingResponse.terminate_instance_in_auto_scaling_group
    apply()
    try:
        yield
    finally:
        AutoScalingResponse.terminate_instance_in_auto_scaling_group = saved  # type: ignore[method-assign]
        del AutoScalingResponse.complete_lifecycle_action  # type: ignore[attr-defined]
        _waiting.clear()
        _decrement.clear()


def apply() -> None:
    """Patch moto for the life of the process (the lab's server)."""
    from moto.autoscaling.responses import AutoScalingResponse

    AutoScalingResponse.terminate_instance_in_auto_scaling_group = _terminate_instance_in_auto_scaling_group  # type: ignore[method-assign]
    AutoScalingResponse.complete_lifecycle_action = _complete_lifecycle_action  # type: ignore[attr-defined]
