//! Forms and their mirroring outbox.

use super::*;
use crate::command as cmd;

#[test]
fn forms_mirror_only_later_submissions_through_the_outbox() {
    let mut h = Harness::new();
    let q = h.create();
    let form = FormId::new(1, 5);
    let fkey = [4; 32];
    let created = h.run(
        1,
        Command::CreateForm(cmd::CreateForm {
            id: form.clone(),
            key_digest: fkey,
            name: "contact".into(),
        }),
    );
    assert!(matches!(created, Response::FormCreated { .. }));
    let submit = |h: &mut Harness, n: u32| {
        h.run(
            2,
            Command::Submit(cmd::Submit {
                form: form.clone(),
                id: format!("sub_{n}"),
                payload: format!("{{\"n\":{n}}}"),
            }),
        )
    };
    assert!(matches!(
        submit(&mut h, 1),
        Response::Submitted {
            seq: 1,
            mirrored: false,
            ..
        }
    ));
    let binding = Binding {
        queue: q.clone(),
        queue_auth: KEY,
    };
    let wrong = h.run(
        3,
        Command::BindForm(cmd::BindForm {
            form: form.clone(),
            auth: [0; 32],
            binding: binding.clone(),
        }),
    );
    assert_eq!(wrong, Response::Refused(CommandError::FormUnauthorized));
    assert!(matches!(
        h.run(
            3,
            Command::BindForm(cmd::BindForm {
                form: form.clone(),
                auth: fkey,
                binding: binding.clone()
            })
        ),
        Response::FormState { .. }
    ));
    assert!(matches!(
        submit(&mut h, 2),
        Response::Submitted {
            seq: 2,
            mirrored: true,
            ..
        }
    ));
    assert!(matches!(
        submit(&mut h, 3),
        Response::Submitted {
            seq: 3,
            mirrored: true,
            ..
        }
    ));
    let outbox = |h: &Harness| match h
        .state
        .query(&Query::MirrorOutbox { limit: 10 }, &h.mem)
        .expect("lookup")
    {
        QueryResult::Outbox(work) => work,
        other => panic!("{other:?}"),
    };
    let work = outbox(&h);
    assert_eq!(work.len(), 1);
    assert_eq!(
        work[0]
            .submissions
            .iter()
            .map(|s| s.seq)
            .collect::<Vec<_>>(),
        vec![2, 3]
    );
    h.run(
        4,
        Command::MirrorDone(cmd::MirrorDone {
            form: form.clone(),
            through: 3,
            failed: None,
            queue: q.clone(),
        }),
    );
    assert!(outbox(&h).is_empty());
    // A failure reported for another (earlier) binding changes nothing.
    submit(&mut h, 4);
    h.run(
        5,
        Command::MirrorDone(cmd::MirrorDone {
            form: form.clone(),
            through: 4,
            failed: Some("old queue gone".into()),
            queue: QueueId::new(1, 999),
        }),
    );
    assert!(h.state.form(&form).is_some_and(|f| f.binding.is_some()));
    // A refused mirror drops the binding and records why.
    h.run(
        5,
        Command::MirrorDone(cmd::MirrorDone {
            form: form.clone(),
            through: 4,
            failed: Some("queue not found".into()),
            queue: q.clone(),
        }),
    );
    let f = h.state.form(&form).expect("form");
    assert_eq!(
        (f.binding.is_none(), f.mirror_error.as_deref()),
        (true, Some("queue not found"))
    );
    assert!(matches!(
        submit(&mut h, 5),
        Response::Submitted {
            mirrored: false,
            ..
        }
    ));
    assert!(outbox(&h).is_empty());
}
