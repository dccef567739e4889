"""The audit tag vocabulary: every event's ``action`` is one of these ``source:subject:action`` tags."""

import enum


class AuditTag(enum.StrEnum):
    # accounts
    LOGIN_SUCCESS = "account:login:success"
    LOGIN_FAILURE = "account:login:failure"
    LOGIN_LOCKED = "account:login:locked"
    LOGOUT = "account:session:logout"
    PASSWORD_CHANGE = "account:password:change"
    PASSWORD_RESET = "account:password:reset"
    USER_CREATE = "account:user:create"
    USER_DEACTIVATE = "account:user:deactivate"
    USER_ACTIVATE = "account:user:activate"
    USER_LOCALE = "account:user:locale"
    TOKEN_CREATE = "account:token:create"
    TOKEN_REVOKE = "account:token:revoke"
    TOKEN_REFUSED = "account:token:refused"
    # agencies
    AGENCY_CREATE = "agency:agency:create"
    AGENCY_UPDATE = "agency:agency:update"
    # cases
    CASE_CREATE = "case:case:create"
    CASE_UPDATE = "case:case:update"
    CASE_FLAG_SET = "case:flag:set"
    CASE_FLAG_CLEAR = "case:flag:clear"
    CASE_IMPORT = "case:import:complete"
    CASE_PII_VIEW = "case:personal_data:view"
    PLACEMENT_CREATE = "case:placement:create"
    PLACEMENT_END = "case:placement:end"
    PLACEMENT_BATCH = "case:placement:batch"
    # complaints register
    COMPLAINT_REGISTER = "complaint:complaint:register"
    COMPLAINT_RESPOND = "complaint:complaint:respond"
    COMPLAINT_CLOSE = "complaint:complaint:close"
    # the lender's calendar of restricted periods
    RESTRICTED_PERIOD_ADD = "compliance:restricted_period:add"
    RESTRICTED_PERIOD_END = "compliance:restricted_period:end"
    RESTRICTED_PERIOD_CANCEL = "compliance:restricted_period:cancel"
    # uploads
    UPLOAD_RECEIVE = "upload:file:receive"
    UPLOAD_DUPLICATE = "upload:file:duplicate"
    UPLOAD_COMPLETE = "upload:file:complete"
    UPLOAD_REJECT = "upload:file:reject"
    UPLOAD_DOWNLOAD = "upload:file:download"
    SETTLEMENT_RECORD = "case:settlement:record"
    # the audit trail itself: reading it is audited too
    AUDIT_EVENTS_READ = "audit:events:read"
    AUDIT_PROOF_READ = "audit:proof:read"
    AUDIT_TRAIL_VERIFY = "audit:trail:verify"
    AUDIT_BUNDLE_EXPORT = "audit:bundle:export"
