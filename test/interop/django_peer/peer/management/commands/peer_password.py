"""Sets a user's password the way Django does (user.set_password + save): peer_password USERNAME < password"""
import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Set a password from stdin"

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, **options):
        user = get_user_model().objects.get(username=options["username"])
        user.set_password(sys.stdin.read())
        user.save()
        self.stdout.write(user.password)
