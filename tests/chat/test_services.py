"""A chat turn: begin (validate, admit, store the question), then events; the hold always released."""

import uuid

import pytest

from agent.backends import scripted_responses
from chat.models import Chat, Message, RequestHold, Seat
from chat.selectors import chat_history
from chat.services import chat_turn_answer, chat_turn_begin, chat_turn_events
from core.errors import ChatNotFound, LlmTimeout, UnknownTopic, UserBusy
from topics.models import Topic


@pytest.fixture
def scripted(settings):
    settings.LLM_BACKEND = "scripted"


def web_turn(org, user, **kwargs):
    return chat_turn_begin(
        org=org, holder=f"web:{user.pk}", user_id=user.username, created_by=user, mode="FAST", **kwargs
    )


@pytest.mark.django_db
def test_a_web_turn_streams_meta_deltas_and_done_and_stores_both_messages(org, member, scripted) -> None:
    turn = web_turn(org, member, query="What is the supply voltage?")
    assert RequestHold.objects.get().holder == f"web:{member.pk}"
    with scripted_responses([{"answer": "It runs from 1.7 V to 3.6 V."}]):
        events = list(chat_turn_events(turn=turn))
    names = [event.name for event in events]
    assert names[0] == "meta" and names[-1] == "done" and set(names[1:-1]) == {"delta"}
    done = events[-1].data
    assert done["final_answer"] == "It runs from 1.7 V to 3.6 V."
    assert "".join(event.data["text"] for event in events if event.name == "delta") == done["final_answer"]
    chat = Chat.objects.get()
    assert (chat.created_by, chat.api_key, chat.user_id) == (member, None, "member")
    assert [m.role for m in chat.messages.all()] == ["user", "assistant"]
    assert RequestHold.objects.count() == 0
    assert list(Seat.objects.values_list("user_id", flat=True)) == ["member"]


@pytest.mark.django_db
def test_the_hold_is_released_before_done_reaches_the_caller(org, member, scripted) -> None:
    turn = web_turn(org, member, query="What is the supply voltage?")
    with scripted_responses([{"answer": "1.8 V."}]):
        for event in chat_turn_events(turn=turn):
            if event.name == "done":
                assert RequestHold.objects.count() == 0  # a client may ask again the moment it sees done


@pytest.mark.django_db
def test_a_second_turn_while_one_is_open_is_refused(org, member) -> None:
    web_turn(org, member, query="first")
    with pytest.raises(UserBusy):
        web_turn(org, member, query="second")


@pytest.mark.django_db
def test_closing_the_stream_early_stores_an_aborted_answer_and_frees_the_hold(org, member, scripted) -> None:
    turn = web_turn(org, member, query="What is the supply voltage?")
    with scripted_responses([{"answer": "It runs from 1.7 V to 3.6 V."}]):
        events = chat_turn_events(turn=turn)
        assert next(events).name == "meta"
        assert next(events).name == "delta"
        events.close()
    answer = Message.objects.get(role="assistant")
    assert (answer.status, answer.error) == ("aborted", "client_disconnected")
    assert answer.content == "It"  # what the client had been sent
    assert RequestHold.objects.count() == 0


@pytest.mark.django_db
def test_a_model_failure_stores_a_failed_answer_frees_the_hold_and_raises(org, member, scripted) -> None:
    turn = web_turn(org, member, query="What is the supply voltage?")
    with scripted_responses([{"error": "timeout"}]), pytest.raises(LlmTimeout):
        list(chat_turn_events(turn=turn))
    answer = Message.objects.get(role="assistant")
    assert (answer.status, answer.error) == ("failed", "llm_timeout")
    assert RequestHold.objects.count() == 0


@pytest.mark.django_db
def test_history_holds_earlier_questions_and_completed_answers_only(org, member, scripted) -> None:
    with scripted_responses([{"answer": "Answer one."}, {"error": "unavailable"}]):
        with web_turn(org, member, query="Question one?") as turn:
            chat_id = uuid.UUID(chat_turn_answer(turn=turn)["chat_id"])
        with pytest.raises(Exception), web_turn(org, member, query="Question two?", chat_id=chat_id) as turn:  # noqa: B017
            chat_turn_answer(turn=turn)  # LlmUnavailable
    history = chat_history(chat=Chat.objects.get(pk=chat_id))
    assert [(turn.role, turn.content) for turn in history] == [
        ("user", "Question one?"),
        ("assistant", "Answer one."),
        ("user", "Question two?"),
    ]


@pytest.mark.django_db
def test_a_chat_of_another_org_or_user_cannot_be_continued(org, other_org, member) -> None:
    theirs = Chat.objects.create(org=other_org, user_id="member", title="theirs")
    someone_elses = Chat.objects.create(org=org, user_id="someone", title="not mine")
    for chat in (theirs, someone_elses):
        with pytest.raises(ChatNotFound):
            web_turn(org, member, query="continue", chat_id=chat.pk)
    assert RequestHold.objects.count() == 0 and Seat.objects.count() == 0


@pytest.mark.django_db
def test_an_unknown_topic_is_refused_before_admission(org, member) -> None:
    Topic.objects.create(org=org, name="Sensors")
    with pytest.raises(UnknownTopic):
        web_turn(org, member, query="q", topic_names=["Sensors", "Nope"])
    assert RequestHold.objects.count() == 0 and Chat.objects.count() == 0


@pytest.mark.django_db
def test_leaving_the_block_of_a_turn_that_never_ran_releases_its_hold(org, member) -> None:
    with web_turn(org, member, query="q") as turn:
        assert RequestHold.objects.count() == 1
    assert RequestHold.objects.count() == 0
    turn.hold.release()  # idempotent
    web_turn(org, member, query="q")


@pytest.mark.django_db
def test_a_turn_handed_to_a_stream_keeps_its_hold_until_the_stream_releases_it(org, member) -> None:
    with web_turn(org, member, query="q") as turn:
        release = turn.hold.hand_over()
    assert RequestHold.objects.count() == 1  # the stream runs on after the view returned
    release()
    assert RequestHold.objects.count() == 0


@pytest.mark.django_db
def test_a_failure_before_the_stream_starts_releases_a_handed_over_hold(org, member) -> None:
    with pytest.raises(RuntimeError), web_turn(org, member, query="q") as turn:
        turn.hold.hand_over()
        raise RuntimeError("the response could not be made")
    assert RequestHold.objects.count() == 0
