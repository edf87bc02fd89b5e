"""Admin: users and roles, the audit log, system status and thresholds.

UI only: accounts are ``findme.cases.users``; status rows ``findme.ui.system_status``.
"""

import datetime as dt

import pandas as pd
import streamlit as st

from findme.alerts import channel_config, outbox
from findme.alerts import rules as alert_rules
from findme.cases import users
from findme.cases.records import RecordError
from findme.ui import alerts_view, importing, page_state, session, system_status, tables
from findme.ui.export import safe_csv
from findme.ui.text import safe

ctx = session.page("Admin", "users.manage")
mine = page_state.of(ctx)  # a prepared export belongs to this workspace and this user
accounts = session.live().records  # accounts always live in the real database
me = ctx.user.username

tab_users, tab_channels, tab_audit, tab_status, tab_export = st.tabs(
    ["Users", "Alert channels", "Audit log", "System status", "Export cases"])

with tab_users:
    st.dataframe(tables.blank_none(pd.DataFrame([{
        "user": u.username, "role": u.role, "active": u.active, "e-mail": u.email,
        "phone": u.phone, "locked until": u.locked_until, "last sign-in": u.last_login_at}
        for u in users.list_users(accounts)])), hide_index=True, width="stretch", key="users")
    st.markdown("**Permissions by role**")
    st.dataframe(pd.DataFrame([{"permission": users.PERMISSION_LABELS[p],
                                **{r: ("yes" if r in roles else "") for r in users.ROLES}}
                               for p, roles in users.PERMISSIONS.items()]),
                 hide_index=True, key="perm_table")
    with st.form("add_user", clear_on_submit=True):
        st.markdown("**Add a user**")
        c1, c2 = st.columns(2)
        name = c1.text_input("User name", key="new_name")
        role = c2.selectbox("Role", users.ROLES, index=3, key="new_role")
        pw = c1.text_input("First password (at least 10 characters)", type="password",
                           key="new_pw")
        email = c2.text_input("E-mail for alerts (optional)", key="new_email")
        phone = c2.text_input("Phone for SMS alerts (optional)", key="new_phone")
        if st.form_submit_button("Add user"):
            try:
                users.add_user(accounts, name, pw, role, me, email, phone)
                st.success(f"User {safe(name)} added as {role}.")
            except RecordError as exc:
                st.error(f"Not added: {safe(exc)}.")
    names = [u.username for u in users.list_users(accounts)]
    who = st.selectbox("Change a user", names, key="edit_user")
    target = users.get_user(accounts, who)
    if target:
        c1, c2, c3 = st.columns(3)
        new_role = c1.selectbox("Role", users.ROLES, index=users.ROLES.index(target.role),
                                key="edit_role")
        try:
            if c1.button("Change role", key="set_role") and new_role != target.role:
                users.set_role(accounts, who, new_role, me)
                st.rerun()
            label = "Disable" if target.active else "Enable"
            if c2.button(f"{label} {safe(who)}", key="toggle_active"):
                users.set_active(accounts, who, not target.active, me)
                st.rerun()
            new_pw = c3.text_input("New password", type="password", key="reset_pw")
            if c3.button("Reset password", key="reset"):
                users.reset_password(accounts, who, new_pw, me)
                st.success(f"Password of {safe(who)} reset; any lock is lifted.")
            email = c2.text_input("Alert e-mail", target.email or "", key=f"email_{who}")
            phone = c2.text_input("Alert phone", target.phone or "", key=f"phone_{who}")
            if c2.button("Save contact", key="set_contact"):
                users.set_contact(accounts, who, email, phone, me)
                st.success(f"Alert contact of {safe(who)} saved.")
        except RecordError as exc:
            st.error(f"Not changed: {safe(exc)}.")

with tab_channels:
    if ctx.demo:
        st.info("The demo workspace never sends e-mail, SMS or webhooks. Switch to *Real cases* "
                "to set the alert channels.")
    else:
        st.caption("Secrets are stored encrypted in the data folder and never shown again: "
                   "leave a secret empty to keep it. A value set in the environment or the "
                   "secrets file wins over one saved here.")
        live_settings = session.live().settings
        if "channel_saved" in mine:
            st.success(mine.pop("channel_saved"))
        status = alert_rules.channel_status(live_settings)
        groups = alerts_view.by_channel(channel_config.fields(live_settings))
        for channel, views in groups.items():
            on, why = status[channel]
            with st.expander(f"{alerts_view.CHANNEL_TITLES[channel]} · {'on' if on else 'off'}",
                             expanded=not on):
                st.caption(safe(why))
                with st.form(f"channel_{channel}"):
                    given = {}
                    for v in views:
                        locked = v.source == "environment or secrets file"
                        given[v.name] = st.text_input(
                            v.label, value="" if v.secret or locked else v.shown,
                            type="password" if v.secret else "default",
                            placeholder=alerts_view.placeholder(v), disabled=locked,
                            key=f"ch_{v.name}")
                    clear = st.checkbox("Clear the saved settings of this channel",
                                        key=f"ch_clear_{channel}")
                    if st.form_submit_button(f"Save {channel} settings"):
                        try:
                            changed = channel_config.save(live_settings, {
                                v.name: ("" if clear else
                                         (given[v.name] or None) if v.secret else given[v.name])
                                for v in views if v.source != "environment or secrets file"})
                        except ValueError as exc:
                            st.error(f"Not saved: {safe(exc)}.")
                        else:
                            accounts.audit(me, "alerts.channels", channel,
                                           ", ".join(changed) or "no change")
                            mine["channel_saved"] = (f"{channel} settings saved "
                                                     f"({len(changed)} changed).")
                            for v in views:  # a typed secret is not kept in the form
                                if v.secret:
                                    st.session_state.pop(f"ch_{v.name}", None)
                            st.rerun()
                if on and st.button(f"Send a test {channel} alert", key=f"ch_test_{channel}"):
                    ok, said = outbox.send_test(accounts, live_settings, channel, me)
                    (st.success if ok else st.warning)(safe(said))

with tab_audit:
    st.caption("Sign-ins and account changes are in the real workspace's log; case work in the "
               "log of the workspace it happened in" + (" (this is the demo's log)."
                                                       if ctx.demo else "."))
    f1, f2, f3, f4 = st.columns(4)
    actor = f1.text_input("Who", key="audit_actor")
    action = f2.text_input("Action starts with (e.g. case, lead, signin)", key="audit_action")
    target_f = f3.text_input("Target (e.g. case:3)", key="audit_target")
    days = f4.number_input("Last days", 1, 3650, 30, key="audit_days")
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=int(days))
    log = pd.DataFrame(ctx.ws.records.audit_log(5000, actor.strip() or None,
                                                action.strip() or None,
                                                target_f.strip() or None, since),
                       columns=["id", "at", "actor", "action", "target", "detail"])
    st.dataframe(tables.blank_none(log), hide_index=True, width="stretch", key="audit")
    st.download_button("Export the audit log (CSV)", safe_csv(log), "audit-log.csv",
                       "text/csv", key="audit_csv")

with tab_status:
    st.subheader("System")
    st.dataframe(pd.DataFrame(system_status.status_rows(ctx.ws)).astype(str), hide_index=True,
                 width="stretch", key="status")
    st.subheader("Thresholds in force")
    st.dataframe(tables.blank_none(pd.DataFrame(system_status.threshold_rows(ctx.ws))),
                 hide_index=True,
                 width="stretch", key="thresholds")
    st.caption("Change them from an evaluation (Evaluation page) or with `findme thresholds`.")
    st.subheader("Models and detectors")
    st.dataframe(tables.blank_none(pd.DataFrame(system_status.weight_rows(ctx.ws))),
                 hide_index=True,
                 width="stretch", key="weights")

with tab_export:
    st.caption("Every case of the open workspace with its stored photos, as a ZIP that "
               "`findme import` or the Register page reads back (hand-over or backup). No "
               "vectors, leads or audit rows. It holds children's records and contacts: keep "
               "it as safe as the data folder.")
    if st.button("Prepare the export", key="export_go"):
        with st.spinner("Writing the export"):
            mine["export_zip"] = importing.export_zip(ctx.ws, me)
    if "export_zip" in mine:
        data, n = mine["export_zip"]
        st.download_button(f"Download {n} case(s) (ZIP, {len(data) / 2**20:.1f} MB)", data,
                           "findme-cases.zip", "application/zip", key="export_zip_dl",
                           on_click="ignore")
