"""Celery tasks that send the accounts' mails, so that a slow or silent mail server never
holds a web request. They take ids and a language code; a mail server failure is retried
with backoff. Sending twice after a crash sends a link twice, which is harmless."""

from __future__ import annotations

from celery import shared_task

from accounts import mail

MAIL_RETRY = {
    "autoretry_for": (OSError,),  # smtplib's errors and socket timeouts
    "retry_backoff": 30,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(name="accounts.tasks.send_confirmation", ignore_result=True, **MAIL_RETRY)
def send_confirmation(user_id: int, language: str) -> bool:
    return mail.send_confirmation(user_id, language=language)


@shared_task(name="accounts.tasks.send_signup_notice", ignore_result=True, **MAIL_RETRY)
def send_signup_notice(user_id: int, language: str) -> bool:
    return mail.send_signup_notice(user_id, language=language)


@shared_task(name="accounts.tasks.send_password_reset", ignore_result=True, **MAIL_RETRY)
def send_password_reset(user_id: int, language: str) -> bool:
    return mail.send_password_reset(user_id, language=language)


@shared_task(name="accounts.tasks.send_email_change", ignore_result=True, **MAIL_RETRY)
def send_email_change(user_id: int, new_email: str, language: str) -> bool:
    return mail.send_email_change(user_id, new_email, language=language)
