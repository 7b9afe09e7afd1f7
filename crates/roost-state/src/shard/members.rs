//! The roster's changes (metadata group): seeding, adding, removing, and each member's first
//! start.

use std::collections::BTreeMap;

use super::{refuse, Effect, Effects, Outcome, ShardState};
use crate::{CommandError, Member, Response, META_GROUP};

impl ShardState {
    fn roster_changed(&self, fx: &mut Effects) -> Response {
        fx.push(Effect::PutRoster);
        Response::Roster(self.roster.clone())
    }

    fn in_meta(&self) -> Option<CommandError> {
        (self.group != META_GROUP)
            .then(|| CommandError::Invalid("the roster lives in the metadata group".into()))
    }

    /// An operator's change needs the seeded roster: on an empty one, a single added member
    /// would become the whole desired membership (and seeding would no longer happen).
    fn seeded(&self) -> Option<CommandError> {
        self.roster.is_empty().then(|| {
            CommandError::MemberConflict(
                "the cluster has not recorded its members yet (it does within seconds of \
                 electing a leader); retry"
                    .into(),
            )
        })
    }

    pub(super) fn seed_members(
        &mut self,
        members: &BTreeMap<u64, (String, String)>,
        fx: &mut Effects,
    ) -> Outcome {
        if let Some(e) = self.in_meta() {
            return refuse(e);
        }
        if !self.roster.is_empty() || members.is_empty() {
            return Ok(Ok(Response::Roster(self.roster.clone())));
        }
        self.roster.members = members
            .iter()
            .map(|(id, (peer_addr, http_addr))| {
                let member = Member {
                    peer_addr: peer_addr.clone(),
                    http_addr: http_addr.clone(),
                    incarnation: None,
                };
                (*id, member)
            })
            .collect();
        Ok(Ok(self.roster_changed(fx)))
    }

    pub(super) fn add_member(
        &mut self,
        id: u64,
        peer_addr: &str,
        http_addr: &str,
        fx: &mut Effects,
    ) -> Outcome {
        if let Some(e) = self.in_meta().or_else(|| self.seeded()) {
            return refuse(e);
        }
        if self.roster.removed.contains(&id) {
            return refuse(CommandError::MemberRemoved(id));
        }
        if let Some(m) = self.roster.members.get(&id) {
            return if m.peer_addr == peer_addr && m.http_addr == http_addr {
                Ok(Ok(Response::Roster(self.roster.clone())))
            } else {
                refuse(CommandError::MemberConflict(format!(
                    "node {id} is a member already, at peer address {} and HTTP address {}",
                    m.peer_addr, m.http_addr
                )))
            };
        }
        let taken = self
            .roster
            .members
            .iter()
            .find(|(_, m)| m.peer_addr == peer_addr || m.http_addr == http_addr);
        if let Some((other, _)) = taken {
            return refuse(CommandError::MemberConflict(format!(
                "member {other} listens at that address already"
            )));
        }
        let member = Member {
            peer_addr: peer_addr.to_owned(),
            http_addr: http_addr.to_owned(),
            incarnation: None,
        };
        self.roster.members.insert(id, member);
        Ok(Ok(self.roster_changed(fx)))
    }

    pub(super) fn remove_member(&mut self, id: u64, fx: &mut Effects) -> Outcome {
        if let Some(e) = self.in_meta().or_else(|| self.seeded()) {
            return refuse(e);
        }
        if self.roster.removed.contains(&id) {
            return Ok(Ok(Response::Roster(self.roster.clone())));
        }
        if !self.roster.members.contains_key(&id) {
            return refuse(CommandError::MemberNotFound);
        }
        if self.roster.members.len() == 1 {
            return refuse(CommandError::MemberConflict(
                "the last member cannot be removed".into(),
            ));
        }
        self.roster.members.remove(&id);
        self.roster.removed.insert(id);
        Ok(Ok(self.roster_changed(fx)))
    }

    pub(super) fn member_started(
        &mut self,
        id: u64,
        incarnation: u64,
        fx: &mut Effects,
    ) -> Outcome {
        if let Some(e) = self.in_meta() {
            return refuse(e);
        }
        if self.roster.removed.contains(&id) {
            return refuse(CommandError::MemberRemoved(id));
        }
        let Some(member) = self.roster.members.get_mut(&id) else {
            return refuse(CommandError::MemberNotFound);
        };
        match member.incarnation {
            Some(known) if known == incarnation => Ok(Ok(Response::Roster(self.roster.clone()))),
            Some(_) => refuse(CommandError::IdReused(id)),
            None => {
                member.incarnation = Some(incarnation);
                Ok(Ok(self.roster_changed(fx)))
            }
        }
    }
}
