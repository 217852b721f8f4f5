"""The region and fake credentials the infrastructure tests run moto (and Zappa) with."""

REGION = "us-east-1"
FAKE_AWS_ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
