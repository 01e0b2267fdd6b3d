"""Read models fed by the order stream: status and lines in PostgreSQL, history in DynamoDB."""
