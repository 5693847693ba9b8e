# NotificationTopic, its e-mail subscription, and (full profile) the customer managed key that lets
# CloudWatch alarms publish to it encrypted (alarms cannot use alias/aws/sns: template.yaml says why).

resource "aws_kms_key" "notification" {
  count = local.full_observability ? 1 : 0

  description         = "Encrypts the ${var.name} failover notification topic"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministersKeyThroughIam"
        Effect    = "Allow"
        Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "StackAlarmsPublishToTopic"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = {
          StringEquals = { "aws:SourceAccount" = local.account_id }
          ArnLike      = { "aws:SourceArn" = "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${var.name}-*" }
        }
      },
    ]
  })
}

resource "aws_kms_alias" "notification" {
  count = local.full_observability ? 1 : 0

  name          = "alias/${var.name}-notifications"
  target_key_id = aws_kms_key.notification[0].key_id
}

resource "aws_sns_topic" "notification" {
  #checkov:skip=CKV_AWS_26:Encrypted with the customer managed key when observability_profile is full. The lean profile cannot use alias/aws/sns (CloudWatch alarms cannot publish to a topic under the AWS managed key) and saves the key's $1 a month; its messages are alarm states and failover notices (no secrets), and every publish travels over TLS.
  name_prefix       = "${var.name}-notifications-"
  display_name      = "NGINX EIP failover"
  kms_master_key_id = local.full_observability ? aws_kms_key.notification[0].arn : null
}

resource "aws_sns_topic_subscription" "email" {
  count = local.has_notification_email ? 1 : 0

  topic_arn = aws_sns_topic.notification.arn
  protocol  = "email"
  endpoint  = var.notification_email
}
