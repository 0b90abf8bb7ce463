use proptest::prelude::*;
use time::macros::datetime;
use uuid::Uuid;

use super::*;

const NOW: Timestamp = datetime!(2026-12-03 12:00 UTC);

fn user(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(n))
}

fn account() -> AccountId {
    AccountId::from_uuid(Uuid::from_u128(1_000))
}

fn member(n: u128, role: MemberRole) -> Membership {
    Membership { account_id: account(), user_id: user(n), role, runs_cap: None, joined_at: NOW }
}

fn email(text: &str) -> Email {
    Email::parse(text).expect("valid")
}

/// An organisation: 1 owner, 2 admin, 3 member.
fn team() -> Vec<Membership> {
    vec![member(1, MemberRole::Owner), member(2, MemberRole::Admin), member(3, MemberRole::Member)]
}

fn may(actor: u128, change: MembershipChange, members: &[Membership]) -> Result<(), MembershipError> {
    let actor = members.iter().find(|m| m.user_id == user(actor)).expect("the actor is a member");
    authorise(AccountKind::Organisation, actor, change, members)
}

use MemberRole::{Admin, Member, Owner};
use MembershipChange::{Invite, Remove, SetCap, SetRole};

#[test]
fn owners_and_admins_manage_members_and_members_do_not() {
    let t = team();
    for actor in [1, 2] {
        assert_eq!(may(actor, Invite { role: Member }, &t), Ok(()));
        assert_eq!(may(actor, Invite { role: Admin }, &t), Ok(()));
        assert_eq!(may(actor, SetCap { target: user(3) }, &t), Ok(()));
        assert_eq!(may(actor, SetRole { target: user(3), role: Admin }, &t), Ok(()));
        assert_eq!(may(actor, Remove { target: user(3) }, &t), Ok(()));
    }
    for change in [
        Invite { role: Member },
        SetCap { target: user(3) },
        SetRole { target: user(3), role: Admin },
        Remove { target: user(2) },
    ] {
        assert_eq!(may(3, change, &t), Err(MembershipError::NotAllowed), "{change:?}");
    }
}

#[test]
fn only_owners_make_change_or_remove_owners() {
    let t = team();
    assert_eq!(may(2, Invite { role: Owner }, &t), Err(MembershipError::NotAllowed));
    assert_eq!(may(2, SetRole { target: user(3), role: Owner }, &t), Err(MembershipError::NotAllowed));
    assert_eq!(may(2, SetRole { target: user(1), role: Admin }, &t), Err(MembershipError::NotAllowed));
    assert_eq!(may(2, Remove { target: user(1) }, &t), Err(MembershipError::NotAllowed));
    assert_eq!(may(1, Invite { role: Owner }, &t), Ok(()));
    assert_eq!(may(1, SetRole { target: user(2), role: Owner }, &t), Ok(()));
}

#[test]
fn the_last_owner_can_neither_leave_nor_be_demoted_but_one_of_two_can() {
    let t = team();
    assert_eq!(may(1, Remove { target: user(1) }, &t), Err(MembershipError::LastOwner));
    assert_eq!(may(1, SetRole { target: user(1), role: Admin }, &t), Err(MembershipError::LastOwner));
    let mut two = team();
    two.push(member(4, Owner));
    assert_eq!(may(1, Remove { target: user(1) }, &two), Ok(()));
    assert_eq!(may(4, SetRole { target: user(1), role: Member }, &two), Ok(()));
}

#[test]
fn every_member_may_leave_and_changes_name_members_only() {
    let t = team();
    assert_eq!(may(3, Remove { target: user(3) }, &t), Ok(()));
    assert_eq!(may(2, Remove { target: user(2) }, &t), Ok(()));
    assert_eq!(may(1, Remove { target: user(9) }, &t), Err(MembershipError::NotAMember));
    assert_eq!(may(1, SetCap { target: user(9) }, &t), Err(MembershipError::NotAMember));
    assert_eq!(may(1, SetRole { target: user(9), role: Member }, &t), Err(MembershipError::NotAMember));
}

#[test]
fn a_personal_account_takes_no_members() {
    let me = [member(1, Owner)];
    for change in [Invite { role: Member }, SetCap { target: user(1) }, Remove { target: user(1) }] {
        assert_eq!(
            authorise(AccountKind::Personal, &me[0], change, &me),
            Err(MembershipError::PersonalAccount)
        );
    }
}

fn invitation() -> Invitation {
    Invitation::new(
        InvitationId::from_uuid(Uuid::from_u128(7)),
        account(),
        email("grace@example.com"),
        Member,
        user(1),
        NOW,
    )
}

#[test]
fn an_invitation_is_accepted_once_by_its_email_within_seven_days() {
    let mut inv = invitation();
    assert_eq!(inv.expires_at, NOW + time::Duration::days(7));
    assert_eq!(inv.accept(&email("ada@example.com"), NOW), Err(InvitationError::OtherEmail));
    assert_eq!(inv.accepted_at, None, "a refused acceptance changes nothing");
    // Emails compare as parsed (case-insensitively).
    assert_eq!(inv.accept(&email("Grace@Example.com"), NOW + time::Duration::days(6)), Ok(()));
    assert_eq!(inv.accepted_at, Some(NOW + time::Duration::days(6)));
    assert_eq!(
        inv.accept(&email("grace@example.com"), NOW + time::Duration::days(6)),
        Err(InvitationError::Used)
    );
}

#[test]
fn an_invitation_expires_at_its_expiry_and_used_beats_expired() {
    let mut late = invitation();
    let expiry = late.expires_at;
    assert_eq!(late.accept(&email("grace@example.com"), expiry), Err(InvitationError::Expired));
    let mut just_in_time = invitation();
    assert_eq!(just_in_time.accept(&email("grace@example.com"), expiry - time::Duration::SECOND), Ok(()));
    assert_eq!(just_in_time.accept(&email("grace@example.com"), expiry), Err(InvitationError::Used));
}

#[test]
fn names_and_roles_read_back_as_written() {
    assert_eq!(AccountName::parse("  Acme Research  ").map(|n| n.to_string()), Ok("Acme Research".into()));
    assert_eq!(AccountName::parse(" \t "), Err(InvalidAccountName::Empty));
    assert_eq!(AccountName::parse(&"x".repeat(101)), Err(InvalidAccountName::TooLong));
    assert!(AccountName::parse(&"é".repeat(100)).is_ok(), "characters, not bytes");
    assert_eq!(AccountName::parse("a\u{0}b"), Err(InvalidAccountName::ControlCharacters));
    for role in [Owner, Admin, Member] {
        assert_eq!(role.as_str().parse::<MemberRole>(), Ok(role));
    }
    for kind in [AccountKind::Personal, AccountKind::Organisation] {
        assert_eq!(kind.as_str().parse::<AccountKind>(), Ok(kind));
    }
    assert!("superuser".parse::<MemberRole>().is_err());
}

fn change() -> impl Strategy<Value = (u128, MembershipChange)> {
    let who = 1u128..16;
    let role = prop_oneof![Just(Owner), Just(Admin), Just(Member)];
    (
        who.clone(),
        prop_oneof![
            role.clone().prop_map(|role| Invite { role }),
            (who.clone(), role).prop_map(|(t, role)| SetRole { target: user(t), role }),
            who.clone().prop_map(|t| SetCap { target: user(t) }),
            who.prop_map(|t| Remove { target: user(t) }),
        ],
    )
}

proptest! {
    /// Whatever members ask, in any order, applying only what `authorise` allows never leaves an
    /// organisation without an owner, and never lets a member without a managing role change
    /// anyone but themself.
    #[test]
    fn no_sequence_of_allowed_changes_leaves_an_organisation_without_an_owner(
        changes in prop::collection::vec(change(), 0..60)
    ) {
        let mut members = team();
        let mut next_user = 10;
        for (actor, change) in changes {
            let Some(by) = members.iter().find(|m| m.user_id == user(actor)).cloned() else { continue };
            let allowed = authorise(AccountKind::Organisation, &by, change, &members);
            if allowed.is_ok() && !by.role.manages() {
                prop_assert_eq!(change, Remove { target: by.user_id }, "a plain member may only leave");
            }
            if allowed.is_err() {
                continue;
            }
            match change {
                Invite { role } => {
                    members.push(member(next_user, role));
                    next_user += 1;
                }
                SetRole { target, role } => {
                    members.iter_mut().filter(|m| m.user_id == target).for_each(|m| m.role = role);
                }
                SetCap { .. } => {}
                Remove { target } => members.retain(|m| m.user_id != target),
            }
            prop_assert!(members.iter().any(|m| m.role == Owner), "no owner left: {members:?}");
        }
    }
}
