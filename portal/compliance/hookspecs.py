"""The rule contract: the hooks a conduct-rule plugin implements (pluggy project ``portal``, group ``portal.rules``)."""

from __future__ import annotations

from os import PathLike

import pluggy

from portal.compliance.rules.rule import Rule, RuleSettings

PROJECT = "portal"
ENTRY_POINT_GROUP = "portal.rules"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def rule_definitions(settings: RuleSettings) -> list[Rule] | None:
    """Declare the conduct rules this plugin provides.

    :param settings:
        :class:`~portal.compliance.rules.RuleSettings`: the active ``profile`` (``CN`` or
        ``US``) and the extra word-list directories. Most plugins ignore it and may leave the
        parameter out; a rule is declared whatever the profile and says itself which profiles
        it runs under.

    Return a list of :class:`~portal.compliance.rules.Rule` instances, or None. A rule's ``id``
    is what every finding names (contract 8's ids, or a new one matching
    ``[a-z][a-z0-9_]{1,63}``); ids are global, so two plugins declaring the same id stop the
    portal at startup with ``RuleConfigError`` naming both, as does a rule whose profiles are not
    ``CN``/``US``, whose severity is not ``low``/``medium``/``high``, or a parameter without a
    default for one of the rule's profiles. Block one of two clashing plugins by name to resolve
    a clash; a lender replaces a built-in rule by blocking ``builtin`` and registering a package
    that declares the rules it wants.

    ``Rule.evaluate(contact, ctx)`` must be a pure function of the contact, the context
    (``ctx.params``, ``ctx.case``, ``ctx.history``, ``ctx.days``, ``ctx.calendar``,
    ``ctx.wordlists``) and nothing else: no clock, no database, no Flask, no network. It returns
    a :class:`~portal.compliance.rules.Finding` (an explanation as an ``N_`` template with its
    values, and an agency-safe explanation when the full one counts or dates another agency's
    contacts) or None. The host adds the rule's id, severity, version and resolved parameters.

    This hook is called once, when the registry is built (at startup); raising here stops the
    portal with the plugin's name. All implementations are called; the host collects every rule.
    """


@hookspec
def rule_wordlist_dirs(settings: RuleSettings) -> list[str | PathLike[str]] | None:
    """Offer directories of prohibited-word lists for the ``prohibited_language`` rule.

    :param settings:
        The host's rule settings; may be left out of the implementation.

    Return a list of directories (paths), or None. Each holds ``<category>.<anything>.txt`` files
    (UTF-8, one term per line, ``#`` comment lines, ``!term`` to remove a term listed before);
    see ``portal.compliance.rules.wordlists``. The built-in lists come first, then the plugins'
    directories in registration order, then the directories of the lender's configuration, so a
    later list can remove an earlier term. A lender that only wants more words needs no plugin:
    configuration names a directory. A missing directory is a configuration error at startup.

    Called once when the registry is built. All implementations are called.
    """
