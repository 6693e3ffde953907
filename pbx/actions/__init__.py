"""Every state change is a ``do_*`` function here: transactional, audited, follow-ups on commit."""

from .calls import (
    do_answer_waiting_call,
    do_cancel_transfer,
    do_click_to_call,
    do_complete_transfer,
    do_hangup_call,
    do_hold_call,
    do_listen_in,
    do_record_call,
    do_transfer_call,
)
from .directory import (
    do_create_device,
    do_create_tenant,
    do_create_user,
    do_regenerate_device_secret,
    sync_staff_flag,
)
from .errors import ActionRefused, CallGone
from .licences import do_end_listen_in
from .numbers import do_assign_numbers, do_unassign_numbers, do_verify_mobile_number
from .objects import do_delete_object, do_save_object
from .presence import do_activate_profile, do_clear_presence, do_set_presence
from .prompts import do_upload_prompt
from .provisioning import do_renew_provisioning_token, do_send_setup_email
from .queues import do_queue_login, do_queue_logout, do_queue_pause
from .schedules import do_set_schedule_override
from .selfservice import (
    do_create_forwarding_profile,
    do_delete_forwarding_profile,
    do_delete_voicemail,
    do_mark_voicemail_heard,
    do_save_forwarding_profile,
    do_save_forwarding_rule,
    do_set_caller_id,
    do_set_language,
)

__all__ = [
    "do_activate_profile", "do_clear_presence", "do_create_device", "do_create_tenant", "do_create_user",
    "do_delete_object", "do_queue_login", "do_queue_logout", "do_queue_pause", "do_regenerate_device_secret",
    "do_save_object", "do_set_presence", "do_set_schedule_override", "do_upload_prompt", "sync_staff_flag",
]
__all__ += [
    "do_create_forwarding_profile", "do_delete_forwarding_profile", "do_delete_voicemail", "do_mark_voicemail_heard",
    "do_save_forwarding_profile", "do_save_forwarding_rule", "do_set_caller_id", "do_set_language",
]
__all__ += ["do_assign_numbers", "do_unassign_numbers", "do_verify_mobile_number"]
__all__ += [
    "ActionRefused", "CallGone", "do_answer_waiting_call", "do_cancel_transfer", "do_click_to_call",
    "do_complete_transfer", "do_hangup_call", "do_hold_call", "do_listen_in", "do_record_call", "do_transfer_call",
]
__all__ += ["do_renew_provisioning_token", "do_send_setup_email"]
__all__ += ["do_end_listen_in"]
