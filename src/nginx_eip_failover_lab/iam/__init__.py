"""The template's IAM policies resolved and enforced on the lab's requests."""
