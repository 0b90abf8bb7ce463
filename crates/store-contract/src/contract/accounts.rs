//! Accounts: organisations, members and invitations, and the pool shared by members with caps —
//! exact under any concurrency (SPEC §13).

use time::Duration;
use tollgate_domain::{
    Account, AccountId, AccountKind, AccountName, Email, Invitation, InvitationId, MemberRole, RunCount,
    RunLimit, Subscription, SubscriptionId, UsageEffect, UserId,
};
use tollgate_ports::{Accepted, Consumption, MemberChange, SettleOutcome};

use crate::fixtures::{consumption, got, id, registered, Got, T0};
use crate::Subject;

/// An organisation owned by `owner`, with a free subscription: its id.
pub async fn organisation(s: &Subject, owner: UserId, name: &str) -> AccountId {
    let account = Account {
        id: AccountId::from_uuid(id()),
        kind: AccountKind::Organisation,
        name: AccountName::parse(name).unwrap(),
        created_at: T0,
    };
    let sub = Subscription::new_free(SubscriptionId::from_uuid(id()), account.id, T0);
    s.accounts.create_organisation(&account, owner, &sub, T0).await.unwrap();
    account.id
}

/// `user` joins `account` in `role` (through an invitation, as they would).
pub async fn join(s: &Subject, account: AccountId, user: UserId, email: &str, role: MemberRole) {
    let invitation =
        Invitation::new(InvitationId::from_uuid(id()), account, Email::parse(email).unwrap(), role, user, T0);
    s.accounts.create_invitation(&invitation, &format!("hash-{}", invitation.id)).await.unwrap();
    assert_eq!(s.accounts.accept_invitation(invitation.id, user, T0).await.unwrap(), Accepted::Joined);
}

/// A member's use of `account`.
pub fn member_use(account: AccountId, user: UserId, limit: RunLimit, units: u32) -> Consumption {
    Consumption {
        account_id: account,
        user_id: Some(user),
        units: RunCount::new(units),
        ..consumption(user, 0, limit, None)
    }
}

async fn pool(s: &Subject, account: AccountId) -> (u32, u32) {
    let sub = s.subs.get_by_account(account).await.unwrap().unwrap();
    (sub.runs_used().get(), sub.runs_reserved().get())
}

/// Each member's `(used, reserved)`, by user.
async fn shares(s: &Subject, account: AccountId) -> Vec<(UserId, u32, u32)> {
    let mut members: Vec<_> = s
        .accounts
        .members(account)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.membership.user_id, m.runs_used.get(), m.runs_reserved.get()))
        .collect();
    members.sort();
    members
}

pub async fn an_organisation_is_made_with_its_owner_and_a_subscription(s: Subject) {
    let (ada, _) = registered(&s, "ada@example.com").await;
    let (bob, _) = registered(&s, "bob@example.com").await;
    let acme = organisation(&s, ada.id, "Acme").await;
    let zeta = organisation(&s, ada.id, "zeta").await;
    join(&s, acme, bob.id, "bob@example.com", MemberRole::Member).await;

    let found = s.accounts.find_account(acme).await.unwrap().unwrap();
    assert_eq!((found.kind, found.name.as_str()), (AccountKind::Organisation, "Acme"));
    let personal = s.accounts.find_account(AccountId::personal(ada.id)).await.unwrap().unwrap();
    assert_eq!((personal.kind, personal.name.as_str()), (AccountKind::Personal, "Ada Lovelace"));
    let mine: Vec<(AccountId, MemberRole)> =
        s.accounts.accounts_of(ada.id).await.unwrap().into_iter().map(|m| (m.account.id, m.role)).collect();
    assert_eq!(
        mine,
        [
            (AccountId::personal(ada.id), MemberRole::Owner),
            (acme, MemberRole::Owner),
            (zeta, MemberRole::Owner)
        ]
    );
    assert_eq!(s.accounts.membership(acme, bob.id).await.unwrap().map(|m| m.role), Some(MemberRole::Member));
    assert_eq!(s.accounts.membership(zeta, bob.id).await.unwrap(), None);
    assert_eq!(s.accounts.count_members(acme).await.unwrap(), 2);
    let sub = s.subs.get_by_account(acme).await.unwrap().unwrap();
    assert_eq!(sub.account_id(), acme);
    assert_eq!(s.accounts.find_account(AccountId::from_uuid(id())).await.unwrap(), None);
}

pub async fn an_invitation_racing_itself_is_accepted_once(s: Subject) {
    let (ada, _) = registered(&s, "ada@example.com").await;
    let (bob, _) = registered(&s, "bob@example.com").await;
    let acme = organisation(&s, ada.id, "Acme").await;
    let invitation = Invitation::new(
        InvitationId::from_uuid(id()),
        acme,
        Email::parse("bob@example.com").unwrap(),
        MemberRole::Admin,
        ada.id,
        T0,
    );
    s.accounts.create_invitation(&invitation, "hash-of-the-token").await.unwrap();
    let found = s.accounts.find_invitation("hash-of-the-token").await.unwrap().unwrap();
    assert_eq!(found, invitation);
    let tries = (0..8).map(|_| {
        let accounts = s.accounts.clone();
        async move { accounts.accept_invitation(invitation.id, bob.id, T0).await.unwrap() }
    });
    let outcomes = futures_util::future::join_all(tries).await;
    assert_eq!(outcomes.iter().filter(|o| **o == Accepted::Joined).count(), 1, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| **o == Accepted::Used).count(), 7, "{outcomes:?}");
    assert_eq!(s.accounts.count_members(acme).await.unwrap(), 2);
    let used = s.accounts.find_invitation("hash-of-the-token").await.unwrap().unwrap();
    assert_eq!(used.accepted_at, Some(T0));
}

pub async fn two_owners_leaving_at_once_leave_one_owner(s: Subject) {
    let (ada, _) = registered(&s, "ada@example.com").await;
    let (bob, _) = registered(&s, "bob@example.com").await;
    let acme = organisation(&s, ada.id, "Acme").await;
    join(&s, acme, bob.id, "bob@example.com", MemberRole::Owner).await;
    let (a, b) = tokio::join!(s.accounts.remove_member(acme, ada.id), s.accounts.remove_member(acme, bob.id));
    let mut outcomes = [a.unwrap(), b.unwrap()];
    outcomes.sort_by_key(|o| *o == MemberChange::Done);
    assert_eq!(outcomes, [MemberChange::LastOwner, MemberChange::Done]);
    let owners = s.accounts.members(acme).await.unwrap();
    assert_eq!(owners.iter().filter(|m| m.membership.role == MemberRole::Owner).count(), 1);
    // Demoting the last one is refused too; an unknown member is not found.
    let last = owners[0].membership.user_id;
    assert_eq!(
        s.accounts.update_member(acme, last, MemberRole::Admin, None).await.unwrap(),
        MemberChange::LastOwner
    );
    assert_eq!(
        s.accounts.update_member(acme, UserId::from_uuid(id()), MemberRole::Member, None).await.unwrap(),
        MemberChange::NotFound
    );
}

/// Members of one account racing with consumptions and holds (and a stranger among them): the
/// pool and every cap hold, and the counters are exactly what was taken — then commits, releases,
/// expiries and refunds move both counters alike, and a new period zeroes both.
pub async fn members_racing_on_one_pool_never_pass_it_or_their_caps(s: Subject) {
    let (ada, _) = registered(&s, "ada@example.com").await;
    let acme = organisation(&s, ada.id, "Acme").await;
    let mut members = vec![ada.id];
    for (i, cap) in [Some(3), Some(5), None, Some(0)].into_iter().enumerate() {
        let email = format!("m{i}@example.com");
        let (user, _) = registered(&s, &email).await;
        join(&s, acme, user.id, &email, MemberRole::Member).await;
        s.accounts.update_member(acme, user.id, MemberRole::Member, cap.map(RunCount::new)).await.unwrap();
        members.push(user.id);
    }
    let (stranger, _) = registered(&s, "eve@example.com").await;
    let limit = RunLimit::limited(20);
    // Every join moved the version (seats); the writes are decided on the state after them.
    let version = s.subs.get_by_account(acme).await.unwrap().unwrap().version();
    let writes = (0..64u32).map(|i| {
        let (usage, reservations) = (s.usage.clone(), s.reservations.clone());
        let who = if i % 13 == 12 { stranger.id } else { members[(i % 5) as usize] };
        let c = Consumption { expected_version: version, ..member_use(acme, who, limit, 1 + i % 2) };
        async move {
            let outcome = if i % 3 == 0 {
                got(reservations.hold(&c, T0 + Duration::minutes(5)).await.unwrap(), |r| r.id)
            } else {
                got(usage.consume(&c).await.unwrap(), |record| record)
            };
            (who, c.units.get(), i % 3 == 0, c.record_id, outcome)
        }
    });
    let outcomes = futures_util::future::join_all(writes).await;
    let mut taken = 0u32;
    for (who, units, _, _, outcome) in &outcomes {
        match outcome {
            Got::Consumed(_) => taken += units,
            Got::NotAMember => assert_eq!(*who, stranger.id),
            Got::LimitReached(_) | Got::MemberCapReached(_) => {}
            other => panic!("{other:?}"),
        }
    }
    let (used, reserved) = pool(&s, acme).await;
    assert_eq!(used + reserved, taken, "the pool counts exactly what was taken");
    assert!(used + reserved <= 20, "the pool was passed: {used} + {reserved}");
    let per_member = shares(&s, acme).await;
    let member_total: u32 = per_member.iter().map(|(_, u, r)| u + r).sum();
    assert_eq!(member_total, taken, "the members' shares add up to the pool: {per_member:?}");
    let cap_of = |user: UserId| match members.iter().position(|m| *m == user) {
        Some(1) => Some(3),
        Some(2) => Some(5),
        Some(4) => Some(0),
        _ => None,
    };
    for (user, u, r) in &per_member {
        if let Some(cap) = cap_of(*user) {
            assert!(u + r <= cap, "{user} passed their cap {cap}: {u} + {r}");
        }
    }

    // Settle every hold: commit half of them for 1 run, release the rest.
    let holds: Vec<_> =
        outcomes.iter().filter(|(_, _, hold, _, o)| *hold && matches!(o, Got::Consumed(_))).collect();
    for (n, (_, _, _, record, _)) in holds.iter().enumerate() {
        let at = T0 + Duration::seconds(1);
        let settled = if n % 2 == 0 {
            s.reservations.commit(*record, Some(RunCount::new(1)), id(), at).await.unwrap()
        } else {
            s.reservations.release(*record, at).await.unwrap()
        };
        assert!(matches!(settled, SettleOutcome::Done(_)), "{settled:?}");
    }
    let (used, reserved) = pool(&s, acme).await;
    assert_eq!(reserved, 0);
    let per_member = shares(&s, acme).await;
    assert!(per_member.iter().all(|(_, _, r)| *r == 0), "{per_member:?}");
    assert_eq!(per_member.iter().map(|(_, u, _)| u).sum::<u32>(), used);

    // A refund gives a member's runs back to both counters.
    let (who, units, _, record, _) = outcomes
        .iter()
        .find(|(_, _, hold, _, o)| !*hold && matches!(o, Got::Consumed(_)))
        .expect("a consumption");
    s.usage.refund(*record).await.unwrap();
    assert_eq!(pool(&s, acme).await.0, used - units);
    let after = shares(&s, acme).await;
    assert_eq!(after.iter().map(|(_, u, _)| u).sum::<u32>(), used - units);
    let before_of = per_member.iter().find(|(u, ..)| u == who).expect("the member").1;
    assert_eq!(after.iter().find(|(u, ..)| u == who).expect("the member").1, before_of - units);

    // A new period zeroes the members with the pool, in one change.
    let sub = s.subs.get_by_account(acme).await.unwrap().unwrap();
    let mut next = sub.clone();
    assert_eq!(next.refresh(sub.period().end()), UsageEffect::Reset);
    s.subs.update(&next, sub.version(), UsageEffect::Reset).await.unwrap();
    assert_eq!(pool(&s, acme).await.0, 0);
    assert!(shares(&s, acme).await.iter().all(|(_, u, _)| *u == 0));
}

/// An account's seats are its members, counted again on every join and removal — also when
/// members join at once — and each count moves the subscription's version.
pub async fn seats_follow_the_members_even_when_they_join_at_once(s: Subject) {
    let (ada, _) = registered(&s, "ada@example.com").await;
    let acme = organisation(&s, ada.id, "Acme").await;
    let before = s.subs.get_by_account(acme).await.unwrap().unwrap();
    assert_eq!(before.seats(), 1);
    let mut joiners = Vec::new();
    for i in 0..8 {
        let email = format!("m{i}@example.com");
        let (user, _) = registered(&s, &email).await;
        let invitation = Invitation::new(
            InvitationId::from_uuid(id()),
            acme,
            Email::parse(&email).unwrap(),
            MemberRole::Member,
            ada.id,
            T0,
        );
        s.accounts.create_invitation(&invitation, &format!("hash-{}", invitation.id)).await.unwrap();
        joiners.push((invitation.id, user.id));
    }
    let joins = joiners.iter().map(|&(invitation, user)| {
        let accounts = s.accounts.clone();
        async move { accounts.accept_invitation(invitation, user, T0).await.unwrap() }
    });
    let outcomes = futures_util::future::join_all(joins).await;
    assert!(outcomes.iter().all(|o| *o == Accepted::Joined), "{outcomes:?}");
    let after = s.subs.get_by_account(acme).await.unwrap().unwrap();
    assert_eq!(after.seats(), 9);
    assert!(after.version() >= before.version() + 8, "each join moves the version");
    assert_eq!(s.accounts.remove_member(acme, joiners[0].1).await.unwrap(), MemberChange::Done);
    assert_eq!(s.subs.get_by_account(acme).await.unwrap().unwrap().seats(), 8);
    // A decision made on the old count is stale.
    let stale = Consumption {
        expected_version: after.version(),
        ..member_use(acme, ada.id, RunLimit::limited(10), 1)
    };
    assert_eq!(got(s.usage.consume(&stale).await.unwrap(), |r| r), Got::Stale);
}
