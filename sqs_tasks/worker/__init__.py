"""The Lambda side: an SQS batch in, one runner call per record, a partial batch response out."""
