"""Django's Tasks API on SQS + Lambda, with results in DynamoDB.

The path a task takes, one module each:
backends/sqs.py (enqueue) -> envelope.py (message) -> queues.py (SQS) ->
worker/ (the Lambda batch) -> runner/ (one attempt) -> results.py (DynamoDB).
"""
