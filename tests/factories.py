from datetime import timedelta

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("correct-horse-battery")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))


class SuperuserFactory(UserFactory):
    is_superuser = True
    is_staff = True


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "mailings.Client"

    owner = factory.SubFactory(UserFactory)
    email = factory.Sequence(lambda n: f"client{n}@example.org")
    full_name = factory.Faker("name")


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "mailings.Message"

    owner = factory.SubFactory(UserFactory)
    subject = factory.Sequence(lambda n: f"News #{n}")
    body = "Hello {full_name},\n\nOur news.\n\nUnsubscribe: {unsubscribe_url}\n"


class MailingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "mailings.Mailing"
        skip_postgeneration_save = True

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Mailing {n}")
    message = factory.LazyAttribute(lambda o: MessageFactory(owner=o.owner))
    start_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))
    end_at = factory.LazyAttribute(lambda o: o.start_at + timedelta(days=30))
    periodicity = "daily"

    @factory.post_generation
    def clients(self, create, extracted, **kwargs):
        if not create:
            return
        if extracted is None:
            extracted = ClientFactory.create_batch(2, owner=self.owner)
        self.clients.set(extracted)


class AttemptFactory(factory.django.DjangoModelFactory):
    """A run of a mailing for its start slot, as the scheduler opens it."""

    class Meta:
        model = "mailings.Attempt"

    mailing = factory.SubFactory(MailingFactory)
    scheduled_for = factory.LazyAttribute(lambda o: o.mailing.start_at)


class DeliveryFactory(factory.django.DjangoModelFactory):
    """One recipient of a run: a client of the run's mailing (the database insists)."""

    class Meta:
        model = "mailings.Delivery"

    attempt = factory.SubFactory(AttemptFactory)
    client = factory.LazyAttribute(lambda o: ClientFactory(owner=o.attempt.mailing.owner))
    email = factory.LazyAttribute(lambda o: o.client.email)
