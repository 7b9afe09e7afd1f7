//! The roster: seeded once, ids never reused, a member's data dir known by its incarnation.

use super::*;

fn meta() -> Harness {
    Harness {
        state: ShardState::new(META_GROUP),
        mem: MemStore::default(),
    }
}

fn seed(ids: &[u64]) -> Command {
    let members = ids
        .iter()
        .map(|id| (*id, (format!("p{id}:1"), format!("h{id}:1"))))
        .collect();
    Command::SeedMembers(cmd::SeedMembers { members })
}

fn add(id: u64, peer: &str, http: &str) -> Command {
    Command::AddMember(cmd::AddMember {
        id,
        peer_addr: peer.into(),
        http_addr: http.into(),
    })
}

fn roster(r: Response) -> crate::Roster {
    match r {
        Response::Roster(r) => r,
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_first_seed_wins_and_only_in_the_metadata_group() {
    let mut h = meta();
    let first = roster(h.run(1, seed(&[1, 2, 3])));
    assert_eq!(first.members.keys().copied().collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(roster(h.run(2, seed(&[7]))), first);
    assert_eq!(h.state.roster(), &first);
    let mut shard = Harness::new();
    assert!(matches!(
        shard.run(1, seed(&[1])),
        Response::Refused(CommandError::Invalid(_))
    ));
    assert!(shard.state.roster().is_empty());
}

#[test]
fn members_are_added_once_and_removed_ids_never_return() {
    let mut h = meta();
    h.run(1, seed(&[1, 2, 3]));
    let grown = roster(h.run(2, add(4, "p4:1", "h4:1")));
    assert!(grown.members.contains_key(&4));
    // The same request again is answered, not refused (a retried admin call).
    assert_eq!(roster(h.run(3, add(4, "p4:1", "h4:1"))), grown);
    assert!(matches!(
        h.run(4, add(4, "p9:1", "h4:1")),
        Response::Refused(CommandError::MemberConflict(_))
    ));
    assert!(matches!(
        h.run(5, add(5, "p4:1", "h5:1")),
        Response::Refused(CommandError::MemberConflict(_))
    ));
    let shrunk = roster(h.run(6, Command::RemoveMember(cmd::RemoveMember { id: 2 })));
    assert!(!shrunk.members.contains_key(&2));
    assert!(shrunk.removed.contains(&2));
    assert_eq!(
        h.run(7, add(2, "p2:1", "h2:1")),
        Response::Refused(CommandError::MemberRemoved(2))
    );
    assert_eq!(
        h.run(8, Command::RemoveMember(cmd::RemoveMember { id: 9 })),
        Response::Refused(CommandError::MemberNotFound)
    );
    // Removing again answers the roster: the id is gone already.
    assert_eq!(
        roster(h.run(9, Command::RemoveMember(cmd::RemoveMember { id: 2 }))),
        shrunk
    );
}

#[test]
fn the_last_member_stays() {
    let mut h = meta();
    h.run(1, seed(&[1]));
    assert!(matches!(
        h.run(2, Command::RemoveMember(cmd::RemoveMember { id: 1 })),
        Response::Refused(CommandError::MemberConflict(_))
    ));
}

#[test]
fn a_second_data_dir_under_a_known_id_is_refused() {
    let mut h = meta();
    h.run(1, seed(&[1, 2, 3]));
    let started = |id, incarnation| Command::MemberStarted(cmd::MemberStarted { id, incarnation });
    let r = roster(h.run(2, started(2, 77)));
    assert_eq!(r.members[&2].incarnation, Some(77));
    assert_eq!(roster(h.run(3, started(2, 77))), r);
    assert_eq!(
        h.run(4, started(2, 78)),
        Response::Refused(CommandError::IdReused(2))
    );
    assert_eq!(
        h.run(5, started(9, 1)),
        Response::Refused(CommandError::MemberNotFound)
    );
}

#[test]
fn nothing_is_added_or_removed_before_the_roster_is_seeded() {
    let mut h = meta();
    assert!(matches!(
        h.run(1, add(4, "p4:1", "h4:1")),
        Response::Refused(CommandError::MemberConflict(_))
    ));
    assert!(matches!(
        h.run(2, Command::RemoveMember(cmd::RemoveMember { id: 1 })),
        Response::Refused(CommandError::MemberConflict(_))
    ));
    assert!(h.state.roster().is_empty());
    let seeded = roster(h.run(3, seed(&[1, 2, 3])));
    assert_eq!(seeded.members.len(), 3, "the seed still wins");
}
