"""Alerts: channels and why they are on or off, notifications, history with delivery attempts,
retry, a test alert per channel, charts per day.

UI only: rules and outbox rows are ``findme.alerts.rules``; sending is ``findme.alerts.outbox``.
"""

import datetime as dt

import pandas as pd
import streamlit as st

from findme.alerts import charts as alert_charts
from findme.alerts import outbox
from findme.alerts import rules as alerts
from findme.alerts import store as alert_store
from findme.ui import alerts_view, session
from findme.ui.export import safe_csv
from findme.ui.text import safe

ctx = session.page("Alerts", "alerts.view",
                   "Every alert is written here before it is sent; failed sends are retried "
                   "with growing pauses until the provider answers.")
records = ctx.ws.records

st.subheader("Channels")
status = alerts.channel_status(ctx.settings)
cols = st.columns(len(status))
for col, (channel, (on, why)) in zip(cols, status.items(), strict=True):
    col.markdown(f"**{channel}** {':green-badge[on]' if on else ':gray-badge[off]'}")
    col.caption(why)  # the settings' own words (no one's upload)
    if ctx.can("alerts.manage") and on and col.button(f"Send test {channel} alert",
                                                      key=f"test_{channel}"):
        ok, said = outbox.send_test(records, ctx.settings, channel, ctx.user.username)
        (col.success if ok else col.warning)(safe(said))
if ctx.can("users.manage"):
    st.caption("Admins set the e-mail, SMS and webhook channels on the **Admin** page "
               "(Alert channels).")


def notification_lines(items: list) -> None:
    """Notification lines, each with a link to its lead for those who review leads."""
    for n in items:
        left, right = st.columns([5, 1])
        left.markdown(f"- {safe(n.text)}"
                      + (f" · read {n.read_at:%Y-%m-%d %H:%M} UTC" if n.read_at else ""))
        if n.lead_id and ctx.can("leads.review"):
            right.page_link("pages/4_Review_leads.py", label=f"Open lead {n.lead_id}",
                            query_params={"lead": str(n.lead_id)})
        elif n.lead_id:
            right.caption(f"lead {n.lead_id}")


mine = alert_store.unread(records, ctx.user.username)
seen = alert_store.read(records, ctx.user.username)
st.subheader(f"Notifications ({len(mine)} unread)")
tab_unread, tab_read = st.tabs([f"Unread ({len(mine)})", f"Read ({len(seen)})"])
with tab_unread:
    if mine:
        notification_lines([alerts_view.notification(a) for a in mine[:20]])
        if st.button("Mark all read", key="mark_read"):
            alert_store.mark_read(records, ctx.user.username, [a.id for a in mine])
            st.rerun()
    else:
        st.caption("Nothing unread. A new lead that alerts shows up here (and in the sidebar); "
                   "what you have read is under **Read**.")
with tab_read:
    if seen:
        notification_lines([alerts_view.notification(a, at) for a, at in seen])
    else:
        st.caption("Nothing read yet: notifications you mark read are kept here.")

st.subheader("History")
f1, f2, f3, f4 = st.columns(4)
case = f1.number_input("Case number", min_value=0, value=None, step=1, key="f_case")
channels = f2.multiselect("Channel", alert_store.CHANNELS, key="f_channel")
statuses = f3.multiselect("Status", alert_store.STATUSES, key="f_status")
days = f4.number_input("Last days", 1, 3650, 30, key="f_days")
since = dt.datetime.now(dt.UTC) - dt.timedelta(days=int(days))
items = [a for a in alert_store.list_alerts(records, case_id=int(case) if case else None,
                                       since=since)
         if (not channels or a.channel in channels) and (not statuses or a.status in statuses)]
if not items:
    st.caption("No alerts match: widen the filters (more days, every channel and status). "
               "Alerts are made when a search or scan finds a likely match.")
    st.stop()
frame = alert_charts.per_day(items)
c1, c2 = st.columns(2)
c1.plotly_chart(alert_charts.by_channel(frame), key="by_channel")
c2.plotly_chart(alert_charts.by_status(frame), key="by_status")
rows = alerts_view.blank_none(pd.DataFrame(alert_store.as_rows(items)))
if not ctx.can("cases.contact"):
    rows["recipient"] = rows["recipient"].map(
        lambda r: r if r == alert_store.EVERYONE else "(hidden)")
st.dataframe(rows, hide_index=True, width="stretch", key="history")
st.download_button("Export (CSV)", safe_csv(rows), "alerts.csv", "text/csv",
                   key="alerts_csv")

pick = st.selectbox("Delivery attempts of alert", [a.id for a in items], key="pick")
chosen = next(a for a in items if a.id == pick)
tries = alert_store.attempts(records, [pick])
if tries:
    attempts = alerts_view.blank_none(pd.DataFrame([t.__dict__ for t in tries]))
    if chosen.channel == "webhook":  # a receiver's answer can quote its secret URL: code only
        attempts = attempts.drop(columns=["response"])
    st.dataframe(attempts, hide_index=True, width="stretch", key="attempts")
else:
    st.caption("No delivery attempt yet (dashboard notifications need none).")
retryable = chosen.status in ("failed", "pending") and chosen.channel != "dashboard"
if ctx.can("alerts.manage") and retryable and st.button(f"Retry alert {pick} now", key="retry"):
    alert_store.retry(records, pick, ctx.user.username)
    report = outbox.run_once(records, ctx.settings, only=[pick])
    st.success("Delivered." if report.sent else "Still failing: it stays in the outbox and "
               "is retried automatically.")
