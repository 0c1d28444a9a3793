"""factory_boy factories for the whole suite. Reference data (districts, sectors, roles) comes from
the migrations, so factories pick existing rows instead of inventing geography."""

from __future__ import annotations

import factory
from django.contrib.auth.models import Group

from core.models import District, PartnerOrganization, RegistrationAuthority, SubSector, User
from core.roles import GROUP_NAMES, Role

PASSWORD = "correct horse battery"


def district(name: str = "Satkhira") -> District:
    return District.objects.get(name=name)


def sub_sector(code: str = "leather-products") -> SubSector:
    return SubSector.objects.get(code=code)


class PartnerOrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PartnerOrganization
        django_get_or_create = ("code",)
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"PO-{n + 500:03d}")
    name = factory.Sequence(lambda n: f"Test Unnayan Sangstha {n}")
    short_name = factory.Sequence(lambda n: f"TUS{n}")
    registration_authority = RegistrationAuthority.MRA
    registration_number = factory.Sequence(lambda n: f"MRA-{n:06d}")
    head_office_address = "Sadar Road, Satkhira"
    contact_person = "Executive Director"
    email = factory.Sequence(lambda n: f"ed{n}@example.org")
    phone = "+8801711000000"

    @factory.post_generation
    def districts(self, create, extracted, **kwargs):
        if create and extracted:
            self.districts.set(extracted)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    # Plain, predictable names: tests look for them in pages and sort by them.
    first_name = factory.LazyAttribute(lambda user: user.username.replace("-", " ").title())
    last_name = "Tester"
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            for role in extracted:
                self.groups.add(Group.objects.get_or_create(name=GROUP_NAMES[role])[0])
            # `roles` is cached on the instance; make it see the groups just added.
            self.__dict__.pop("roles", None)


def make_user(username: str, *roles: Role, po: PartnerOrganization | None = None, **kwargs) -> User:
    return UserFactory(username=username, roles=list(roles), partner_organization=po, **kwargs)
