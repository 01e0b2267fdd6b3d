"""The messaging operator: kopf handlers that make KafkaTopic, SqsQueue, SnsTopic and MqBinding
resources real in Kafka, SQS/SNS and RabbitMQ."""
