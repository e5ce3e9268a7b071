"""AWS's documented policy examples, transcribed as data, with the decisions AWS's pages give for them.

Each example is a policy from the IAM User Guide (or the Lambda / Bedrock / S3 guides) as the page
shows it (account ids, buckets and regions as there), and requests whose outcome the page states or
that follow directly from its explanation (`why` says which). `with_allow_all`: the page presents a
deny-only policy meant to sit beside policies that allow; the test adds `Allow * on *` beside it.
`identity`: identity policies the caller also has (for resource and trust policies).

Transcribed by hand for openrft's tests (tests/unit/test_policy.py runs them); nothing is copied from a
file.
"""

from __future__ import annotations

from typing import Any

IAM = "https://docs.aws.amazon.com/IAM/latest/UserGuide/"
ACCOUNT = "123456789012"
USER = f"arn:aws:iam::{ACCOUNT}:user/Bob"
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def case(effect: str, why: str, *, action: str, resource: str = "*", **request: Any) -> dict[str, Any]:
    """A request (`principal_arn` defaults to Bob, `keys` to none) and the decision AWS documents."""
    request.setdefault("principal_arn", USER)
    request.setdefault("principal_account", ACCOUNT)
    request.setdefault("keys", {})
    return {"effect": effect, "why": why, "action": action, "resource": resource, **request}


EXAMPLES: list[dict[str, Any]] = [
    {
        "name": "deny outside an IP range unless an AWS service calls on the caller's behalf",
        "source": IAM + "reference_policies_examples_aws_deny-ip.html",
        "kind": "identity",
        "with_allow_all": True,
        "policy": {
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {
                    "NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "203.0.113.0/24"]},
                    "Bool": {"aws:ViaAWSService": "false"},
                },
            },
        },
        "cases": [
            case(
                "Allow",
                "inside 192.0.2.0/24",
                action="ec2:RunInstances",
                keys={"aws:SourceIp": ["192.0.2.10"], "aws:ViaAWSService": ["false"]},
            ),
            case(
                "Allow",
                "inside 203.0.113.0/24",
                action="s3:GetObject",
                keys={"aws:SourceIp": ["203.0.113.200"], "aws:ViaAWSService": ["false"]},
            ),
            case(
                "ExplicitDeny",
                "outside both ranges, called directly",
                action="s3:GetObject",
                keys={"aws:SourceIp": ["198.51.100.7"], "aws:ViaAWSService": ["false"]},
            ),
            case(
                "Allow",
                "a service (CloudFormation) calls on the caller's behalf: ViaAWSService true",
                action="ec2:RunInstances",
                keys={"aws:SourceIp": ["198.51.100.7"], "aws:ViaAWSService": ["true"]},
            ),
            case(
                "ExplicitDeny",
                "no aws:SourceIp: NotIpAddress on a missing key is true",
                action="ec2:RunInstances",
                keys={"aws:ViaAWSService": ["false"]},
            ),
        ],
    },
    {
        "name": "allow within a date window",
        "source": IAM + "reference_policies_examples_aws-dates.html",
        "kind": "identity",
        "policy": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "service-prefix:action-name",
                    "Resource": "*",
                    "Condition": {
                        "DateGreaterThan": {"aws:CurrentTime": "2020-04-01T00:00:00Z"},
                        "DateLessThan": {"aws:CurrentTime": "2020-06-30T23:59:59Z"},
                    },
                }
            ],
        },
        "cases": [
            case(
                "Allow",
                "mid-May 2020",
                action="service-prefix:action-name",
                keys={"aws:CurrentTime": ["2020-05-15T12:00:00Z"]},
            ),
            case(
                "ImplicitDeny",
                "a second before the window",
                action="service-prefix:action-name",
                keys={"aws:CurrentTime": ["2020-03-31T23:59:59Z"]},
            ),
            case(
                "ImplicitDeny",
                "the window's first instant: DateGreaterThan is strict",
                action="service-prefix:action-name",
                keys={"aws:CurrentTime": ["2020-04-01T00:00:00Z"]},
            ),
            case(
                "ImplicitDeny",
                "after the window",
                action="service-prefix:action-name",
                keys={"aws:CurrentTime": ["2020-07-01T00:00:00Z"]},
            ),
            case("ImplicitDeny", "the action is another one", action="service-prefix:other-action"),
        ],
    },
    {
        "name": "deny everything but MFA self-management without MFA (BoolIfExists)",
        "source": IAM + "reference_policies_examples_aws_my-sec-creds-self-manage-mfa-only.html",
        "kind": "identity",
        "with_allow_all": True,
        "policy": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "BlockMostAccessUnlessSignedInWithMFA",
                    "Effect": "Deny",
                    "NotAction": [
                        "iam:CreateVirtualMFADevice",
                        "iam:EnableMFADevice",
                        "iam:ListMFADevices",
                        "iam:ListUsers",
                        "iam:ListVirtualMFADevices",
                        "iam:ResyncMFADevice",
                    ],
                    "Resource": "*",
                    "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
                }
            ],
        },
        "cases": [
            case(
                "Allow",
                "signed in with MFA",
                action="s3:ListAllMyBuckets",
                keys={"aws:MultiFactorAuthPresent": ["true"]},
            ),
            case(
                "ExplicitDeny",
                "signed in without MFA",
                action="s3:ListAllMyBuckets",
                keys={"aws:MultiFactorAuthPresent": ["false"]},
            ),
            case(
                "ExplicitDeny",
                "long-term access keys: the key is absent, IfExists makes the condition true",
                action="s3:ListAllMyBuckets",
            ),
            case(
                "Allow",
                "setting up MFA is exempt (NotAction)",
                action="iam:EnableMFADevice",
                keys={"aws:MultiFactorAuthPresent": ["false"]},
            ),
        ],
    },
    {
        "name": "Bool without IfExists does not deny long-term keys (the page's warning)",
        "source": IAM + "reference_policies_condition-keys.html#condition-keys-multifactorauthpresent",
        "kind": "identity",
        "with_allow_all": True,
        "policy": {
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}},
            },
        },
        "cases": [
            case(
                "ExplicitDeny",
                "console session without MFA",
                action="ec2:StopInstances",
                keys={"aws:MultiFactorAuthPresent": ["false"]},
            ),
            case("Allow", "access keys: the key is absent, so Bool is false", action="ec2:StopInstances"),
        ],
    },
    {
        "name": "deny S3 everywhere but the payroll folder (NotResource)",
        "source": IAM + "reference_policies_elements_notresource.html",
        "kind": "identity",
        "with_allow_all": True,
        "policy": {
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Deny",
                "Action": "s3:*",
                "NotResource": ["arn:aws:s3:::HRBucket/Payroll", "arn:aws:s3:::HRBucket/Payroll/*"],
            },
        },
        "cases": [
            case("Allow", "inside Payroll/", action="s3:GetObject", resource="arn:aws:s3:::HRBucket/Payroll/2020.csv"),
            case("Allow", "the folder itself", action="s3:ListBucket", resource="arn:aws:s3:::HRBucket/Payroll"),
            case(
                "ExplicitDeny",
                "another folder of the bucket",
                action="s3:GetObject",
                resource="arn:aws:s3:::HRBucket/Benefits/plan.pdf",
            ),
            case(
                "ExplicitDeny",
                "resource names are case-sensitive",
                action="s3:GetObject",
                resource="arn:aws:s3:::HRBucket/payroll/2020.csv",
            ),
            case("Allow", "not an S3 action", action="ec2:RunInstances"),
        ],
    },
    {
        "name": "allow everything except IAM (NotAction with Allow)",
        "source": IAM + "reference_policies_elements_notaction.html",
        "kind": "identity",
        "policy": {"Version": "2012-10-17", "Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}},
        "cases": [
            case("Allow", "an S3 action", action="s3:GetObject", resource="arn:aws:s3:::bucket/key"),
            case("ImplicitDeny", "IAM is excluded, so nothing allows it", action="iam:CreateUser"),
            case("ImplicitDeny", "action names are case-insensitive", action="IAM:createuser"),
        ],
    },
    {
        "name": "deny outside the requested regions, global services exempt",
        "source": IAM + "reference_policies_examples_aws_deny-requested-region.html",
        "kind": "identity",
        "with_allow_all": True,
        "policy": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyAllOutsideRequestedRegions",
                    "Effect": "Deny",
                    "NotAction": ["cloudfront:*", "iam:*", "route53:*", "support:*"],
                    "Resource": "*",
                    "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["eu-central-1", "eu-west-1"]}},
                }
            ],
        },
        "cases": [
            case(
                "ExplicitDeny",
                "EC2 in us-east-1",
                action="ec2:RunInstances",
                keys={"aws:RequestedRegion": ["us-east-1"]},
            ),
            case("Allow", "EC2 in eu-west-1", action="ec2:RunInstances", keys={"aws:RequestedRegion": ["eu-west-1"]}),
            case("Allow", "IAM is global", action="iam:CreateRole", keys={"aws:RequestedRegion": ["us-east-1"]}),
            case("ExplicitDeny", "no region: StringNotEquals on a missing key is true", action="ec2:RunInstances"),
        ],
    },
    {
        "name": "ForAllValues: only the listed tag keys",
        "source": IAM + "reference_policies_condition-single-vs-multi-valued-context-keys.html",
        "kind": "identity",
        "policy": {
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": "*",
                "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}},
            },
        },
        "cases": [
            case("Allow", "one listed key", action="ec2:CreateTags", keys={"aws:TagKeys": ["environment"]}),
            case(
                "Allow",
                "both listed keys",
                action="ec2:CreateTags",
                keys={"aws:TagKeys": ["environment", "cost-center"]},
            ),
            case(
                "ImplicitDeny",
                "a key not listed",
                action="ec2:CreateTags",
                keys={"aws:TagKeys": ["environment", "dept"]},
            ),
            case(
                "Allow",
                "no tags at all: ForAllValues on a missing key is true (the page warns)",
                action="ec2:CreateTags",
            ),
            case("Allow", "an empty set, likewise", action="ec2:CreateTags", keys={"aws:TagKeys": []}),
        ],
    },
    {
        "name": "ForAnyValue: at least one of the listed tag keys",
        "source": IAM + "reference_policies_condition-single-vs-multi-valued-context-keys.html",
        "kind": "identity",
        "policy": {
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": "*",
                "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}},
            },
        },
        "cases": [
            case(
                "Allow",
                "one listed and one not",
                action="ec2:CreateTags",
                keys={"aws:TagKeys": ["environment", "dept"]},
            ),
            case("ImplicitDeny", "none listed", action="ec2:CreateTags", keys={"aws:TagKeys": ["dept"]}),
            case("ImplicitDeny", "no tags: ForAnyValue on a missing key is false", action="ec2:CreateTags"),
        ],
    },
    {
        "name": "IpAddress with an IPv4 and an IPv6 range",
        "source": IAM + "reference_policies_elements_condition_operators.html#Conditions_IPAddress",
        "kind": "identity",
        "policy": {
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Allow",
                "Action": "iam:*AccessKey*",
                "Resource": "arn:aws:iam::account-id:user/*",
                "Condition": {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}},
            },
        },
        "cases": [
            case(
                "Allow",
                "inside the IPv4 range",
                action="iam:CreateAccessKey",
                resource="arn:aws:iam::account-id:user/Bob",
                keys={"aws:SourceIp": ["203.0.113.5"]},
            ),
            case(
                "Allow",
                "inside the IPv6 range (addresses compare, not their spelling)",
                action="iam:ListAccessKeys",
                resource="arn:aws:iam::account-id:user/Bob",
                keys={"aws:SourceIp": ["2001:db8:1234:5678::1"]},
            ),
            case(
                "ImplicitDeny",
                "the next /64",
                action="iam:ListAccessKeys",
                resource="arn:aws:iam::account-id:user/Bob",
                keys={"aws:SourceIp": ["2001:db8:1234:5679::1"]},
            ),
            case(
                "ImplicitDeny",
                "the wildcard action does not cover this one",
                action="iam:CreateUser",
                resource="arn:aws:iam::account-id:user/Bob",
                keys={"aws:SourceIp": ["203.0.113.5"]},
            ),
        ],
    },
    {
        "name": "NumericLessThanEquals on s3:max-keys",
        "source": IAM + "reference_policies_elements_condition_operators.html#Conditions_Numeric",
        "kind": "identity",
        "policy": {
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": "arn:aws:s3:::amzn-s3-demo-bucket",
                "Condition": {"NumericLessThanEquals": {"s3:max-keys": "10"}},
            },
        },
        "cases": [
            case(
                "Allow",
                "10 is allowed",
                action="s3:ListBucket",
                resource="arn:aws:s3:::amzn-s3-demo-bucket",
                keys={"s3:max-keys": ["10"]},
            ),
            case(
                "ImplicitDeny",
                "11 is too many",
                action="s3:ListBucket",
                resource="arn:aws:s3:::amzn-s3-demo-bucket",
                keys={"s3:max-keys": ["11"]},
            ),
            case(
                "ImplicitDeny",
                "no max-keys: a missing key is false",
                action="s3:ListBucket",
                resource="arn:aws:s3:::amzn-s3-demo-bucket",
            ),
        ],
    },
    {
        "name": "StringEquals on a principal tag",
        "source": IAM + "reference_policies_elements_condition_operators.html#Conditions_String",
        "kind": "identity",
        "policy": {
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Allow",
                "Action": "iam:*AccessKey*",
                "Resource": "arn:aws:iam::account-id:user/*",
                "Condition": {"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}},
            },
        },
        "cases": [
            case(
                "Allow",
                "the tag has the value",
                action="iam:CreateAccessKey",
                resource="arn:aws:iam::account-id:user/Alice",
                keys={"aws:PrincipalTag/job-category": ["iamuser-admin"]},
            ),
            case(
                "ImplicitDeny",
                "StringEquals is case-sensitive on values",
                action="iam:CreateAccessKey",
                resource="arn:aws:iam::account-id:user/Alice",
                keys={"aws:PrincipalTag/job-category": ["IAMUser-Admin"]},
            ),
            case(
                "Allow",
                "key names are case-insensitive",
                action="iam:CreateAccessKey",
                resource="arn:aws:iam::account-id:user/Alice",
                keys={"AWS:PRINCIPALTAG/JOB-CATEGORY": ["iamuser-admin"]},
            ),
        ],
    },
    {
        "name": "Null: only temporary credentials (aws:TokenIssueTime present)",
        "source": IAM + "reference_policies_elements_condition_operators.html#Conditions_Null",
        "kind": "identity",
        "policy": {
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Allow",
                "Action": "ec2:*",
                "Resource": "*",
                "Condition": {"Null": {"aws:TokenIssueTime": "false"}},
            },
        },
        "cases": [
            case(
                "Allow",
                "temporary credentials carry the key",
                action="ec2:DescribeInstances",
                keys={"aws:TokenIssueTime": ["2020-01-01T00:00:01Z"]},
            ),
            case("ImplicitDeny", "long-term keys do not", action="ec2:DescribeInstances"),
        ],
    },
    {
        "name": "S3 bucket policy denying requests without TLS",
        "source": "https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html",
        "kind": "resource",
        "identity": [ALLOW_ALL],
        "policy": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AllowSSLRequestsOnly",
                    "Action": "s3:*",
                    "Effect": "Deny",
                    "Resource": ["arn:aws:s3:::amzn-s3-demo-bucket", "arn:aws:s3:::amzn-s3-demo-bucket/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    "Principal": "*",
                }
            ],
        },
        "cases": [
            case(
                "ExplicitDeny",
                "plain HTTP",
                action="s3:GetObject",
                resource="arn:aws:s3:::amzn-s3-demo-bucket/report.csv",
                keys={"aws:SecureTransport": ["false"]},
            ),
            case(
                "Allow",
                "HTTPS, and the caller's identity policy allows",
                action="s3:GetObject",
                resource="arn:aws:s3:::amzn-s3-demo-bucket/report.csv",
                keys={"aws:SecureTransport": ["true"]},
            ),
        ],
    },
    {
        "name": "Lambda resource policy: S3 may invoke the function for one bucket",
        "source": "https://docs.aws.amazon.com/lambda/latest/dg/access-control-resource-based.html",
        "kind": "resource",
        "policy": {
            "Version": "2012-10-17",
            "Id": "default",
            "Statement": [
                {
                    "Sid": "lambda-allow-s3-my-function",
                    "Effect": "Allow",
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": "lambda:InvokeFunction",
                    "Resource": "arn:aws:lambda:us-east-2:123456789012:function:my-function",
                    "Condition": {
                        "StringEquals": {"AWS:SourceAccount": "123456789012"},
                        "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::amzn-s3-demo-bucket"},
                    },
                },
                {
                    "Sid": "xaccount",
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                    "Action": "lambda:GetFunction",
                    "Resource": "arn:aws:lambda:us-east-2:123456789012:function:my-function",
                },
            ],
        },
        "cases": [
            case(
                "Allow",
                "S3 for the named bucket and account: the resource policy alone allows",
                action="lambda:InvokeFunction",
                resource="arn:aws:lambda:us-east-2:123456789012:function:my-function",
                principal_arn="",
                principal_service="s3.amazonaws.com",
                keys={"aws:SourceAccount": ["123456789012"], "aws:SourceArn": ["arn:aws:s3:::amzn-s3-demo-bucket"]},
            ),
            case(
                "ImplicitDeny",
                "another bucket (the confused-deputy guard)",
                action="lambda:InvokeFunction",
                resource="arn:aws:lambda:us-east-2:123456789012:function:my-function",
                principal_arn="",
                principal_service="s3.amazonaws.com",
                keys={"aws:SourceAccount": ["123456789012"], "aws:SourceArn": ["arn:aws:s3:::other-bucket"]},
            ),
            case(
                "ImplicitDeny",
                "no SourceAccount",
                action="lambda:InvokeFunction",
                resource="arn:aws:lambda:us-east-2:123456789012:function:my-function",
                principal_arn="",
                principal_service="s3.amazonaws.com",
                keys={"aws:SourceArn": ["arn:aws:s3:::amzn-s3-demo-bucket"]},
            ),
            case(
                "ImplicitDeny",
                "another service",
                action="lambda:InvokeFunction",
                resource="arn:aws:lambda:us-east-2:123456789012:function:my-function",
                principal_arn="",
                principal_service="sns.amazonaws.com",
                keys={"aws:SourceAccount": ["123456789012"], "aws:SourceArn": ["arn:aws:s3:::amzn-s3-demo-bucket"]},
            ),
            case(
                "ImplicitDeny",
                "an account principal delegates: a user of 111122223333 needs its own identity allow",
                action="lambda:GetFunction",
                resource="arn:aws:lambda:us-east-2:123456789012:function:my-function",
                principal_arn="arn:aws:iam::111122223333:user/Carol",
                principal_account="111122223333",
            ),
            case(
                "Allow",
                "that account's root is the account itself",
                action="lambda:GetFunction",
                resource="arn:aws:lambda:us-east-2:123456789012:function:my-function",
                principal_arn="arn:aws:iam::111122223333:root",
                principal_account="111122223333",
            ),
        ],
    },
    {
        "name": "Bedrock model customization service role trust policy",
        "source": "https://docs.aws.amazon.com/bedrock/latest/userguide/model-customization-iam-role.html",
        "kind": "trust",
        "identity": [ALLOW_ALL],
        "policy": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "bedrock.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": "123456789012"},
                        "ArnEquals": {
                            "aws:SourceArn": "arn:aws:bedrock:us-west-2:123456789012:model-customization-job/*"
                        },
                    },
                }
            ],
        },
        "cases": [
            case(
                "Allow",
                "Bedrock, for a customization job of this account",
                action="sts:AssumeRole",
                resource="arn:aws:iam::123456789012:role/MyBedrockRole",
                principal_arn="",
                principal_service="bedrock.amazonaws.com",
                keys={
                    "aws:SourceAccount": ["123456789012"],
                    "aws:SourceArn": ["arn:aws:bedrock:us-west-2:123456789012:model-customization-job/abc123"],
                },
            ),
            case(
                "ImplicitDeny",
                "a job in another account",
                action="sts:AssumeRole",
                resource="arn:aws:iam::123456789012:role/MyBedrockRole",
                principal_arn="",
                principal_service="bedrock.amazonaws.com",
                keys={
                    "aws:SourceAccount": ["444455556666"],
                    "aws:SourceArn": ["arn:aws:bedrock:us-west-2:444455556666:model-customization-job/abc123"],
                },
            ),
            case(
                "ImplicitDeny",
                "a user with Allow * in its identity policy: the trust policy does not name it",
                action="sts:AssumeRole",
                resource="arn:aws:iam::123456789012:role/MyBedrockRole",
            ),
        ],
    },
    {
        "name": "Lambda execution role trust policy",
        "source": "https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html",
        "kind": "trust",
        "policy": {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        },
        "cases": [
            case(
                "Allow",
                "the Lambda service",
                action="sts:AssumeRole",
                resource="arn:aws:iam::123456789012:role/lambda-ex",
                principal_arn="",
                principal_service="lambda.amazonaws.com",
            ),
            case(
                "ImplicitDeny",
                "a user of the account",
                action="sts:AssumeRole",
                resource="arn:aws:iam::123456789012:role/lambda-ex",
            ),
        ],
    },
]
