#!/bin/sh
# Run by `npm ci` (the `prepare` script). The first `npx interlock` in a checkout links the checkout
# into npx's cache, and npm, running on whatever Node runs npm (often a system Node 20), then warns
# EBADENGINE that interlock wants Node >= 22 — though the CLI runs on the project's own Node 24 (the
# `node` dev dependency, which npx puts first on PATH; bin/interlock.js hands over to it when
# started by an older Node). Making that link here, during `npm ci`, where npm prints the same
# warning for the same reason anyway, keeps every later `npx interlock` quiet. It installs nothing:
# the cache entry is a link to this directory (--ignore-scripts: linking it would run this prepare
# script again). Failing here must not fail `npm ci`.
npm exec --yes --ignore-scripts --package=. -c true || echo "npx-link: could not link this checkout into npx's cache; the first npx interlock will do it (and npm may warn EBADENGINE then)" >&2
