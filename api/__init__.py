"""The REST API, ``/api/v1/``: every resource the admin, the user web and the console have, for scripts and
integrations. Reads are scoped to the caller's company; every write goes through the same ``pbx.actions``
function as the web (docs/api.md)."""
