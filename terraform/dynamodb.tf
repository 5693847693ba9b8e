# StateTable, DecisionLogTable and MonitorLeaseTable (template.yaml says why each exists).

resource "aws_dynamodb_table" "state" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS managed key. The table holds only failover state (health counters, pins, move history: no secrets); a customer managed key would add a key policy and a monthly charge without protecting anything more.
  name         = "${var.name}-state"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }

  # template.yaml: DeletionPolicy Retain. Terraform has no retain-on-destroy; refusing the destroy
  # is the nearest (remove it from the state with `terraform state rm` to keep the table).
  lifecycle {
    prevent_destroy = true
  }
}

# Append-only records of every state change for `explain` and `replay`.
resource "aws_dynamodb_table" "decision_log" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS managed key. The log holds probe results and decisions (no secrets); a customer managed key would add cost and a key policy for nothing.
  #checkov:skip=CKV_AWS_28:No point-in-time recovery: a diagnostic log whose records expire after decision_log_retention_days; losing it loses no failover state (that is in the state table, with PITR).
  name         = "${var.name}-decision-log"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"
  range_key    = "sk"

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  server_side_encryption {
    enabled = true
  }
}

# One item per EIP: which scheduled monitor invocation is the newest (the hand-over between them).
resource "aws_dynamodb_table" "monitor_lease" {
  #checkov:skip=CKV_AWS_119:Encrypted at rest with the AWS managed key. The table holds one request ID and a start time per EIP; a customer managed key would protect nothing more.
  name         = "${var.name}-monitor-lease"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}
