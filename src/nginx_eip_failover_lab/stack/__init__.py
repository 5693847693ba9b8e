"""template.yaml read and provisioned into the lab: parameters, intrinsics, fixtures, triggers."""
