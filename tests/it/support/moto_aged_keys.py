#!/usr/bin/env python3
"""moto's server (same arguments as `moto_server`), except that the access keys of IAM users
whose name starts with `aged-` are made 200 days old: moto's API cannot backdate a key, and
`firedrill audit` must see an old one (tests/it/audit.rs)."""
import datetime
import sys

from moto.iam import models

_init = models.AccessKey.__init__


def _aged(self, user_name, *args, **kwargs):
    _init(self, user_name, *args, **kwargs)
    if user_name and user_name.startswith("aged-"):
        self.create_date = self.create_date - datetime.timedelta(days=200)


models.AccessKey.__init__ = _aged

from moto.server import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
