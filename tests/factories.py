from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from returns_hub import models
from returns_hub.choices import PostingKind, PostingPolicy


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pass-word-123")

    @factory.post_generation
    def saved(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class KhaosChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.KhaosChannel
        django_get_or_create = ["slug"]

    slug = "hf-khaos"
    username = "khaos"
    sales_source = "Web"
    company_class_id = "1"
    password_hash = factory.LazyFunction(lambda: make_password("khaos-pw"))


class PlatformConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.PlatformConnection
        django_get_or_create = ["slug"]

    platform = "loop"
    slug = factory.Sequence(lambda n: f"connection-{n}")
    webhook_secret = factory.Sequence(lambda n: f"whsec-test-{n}-0123456789")
    posting_policy = PostingPolicy.ON_INSPECTION
    khaos_channel = factory.SubFactory(KhaosChannelFactory)


class ReturnFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Return

    connection = factory.SubFactory(PlatformConnectionFactory)
    external_id = factory.Sequence(lambda n: str(7000 + n))
    associated_ref = factory.LazyAttribute(lambda r: f"LOOP-{r.external_id}")
    order_ref = factory.Sequence(lambda n: str(1000 + n))
    customer_email = factory.Sequence(lambda n: f"customer{n}@example.com")
    currency = "GBP"


class ReturnUnitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ReturnUnit

    return_ref = factory.SubFactory(ReturnFactory)
    external_id = factory.Sequence(lambda n: str(9000000 + n))
    platform_sku = "HF-TEE-ORG-WHT-M"
    price = Decimal("24.99")
    tax = Decimal("5.00")


class TimelineEntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.TimelineEntry

    return_ref = factory.SubFactory(ReturnFactory)
    kind = "note"
    message = "A note"
    cause = "task"


class PostingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Posting

    channel = factory.SubFactory(KhaosChannelFactory)
    return_ref = factory.SubFactory(ReturnFactory)
    kind = PostingKind.RETURN
    platform = factory.LazyAttribute(lambda p: p.return_ref.connection.platform)
    associated_ref = factory.LazyAttribute(lambda p: p.return_ref.associated_ref)
    currency = "GBP"


class ExceptionCaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ExceptionCase

    kind = "unknown_sku"
    cause_key = factory.Sequence(lambda n: f"unknown_sku:test:{n}")
    message = "SKU not known"
    return_ref = factory.SubFactory(ReturnFactory)


class KhaosReturnReasonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.KhaosReturnReason
        django_get_or_create = ["id"]

    id = 3
    name = "Inspected resaleable - return to stock"
    processing_type = "return_to_stock"


class KhaosProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.KhaosProduct

    stock_id = factory.Sequence(lambda n: str(30000 + n))
    stock_code = factory.Sequence(lambda n: f"HF-TEST-{n}")
