"""Write a DuEE 1.0 submission: python -m ie_event.predict [--run DIR] [--input FILE] [--out FILE] [data.*|predict.*=...]

One JSON line {"id", "event_list"} per input line, in input order, `id` copied as given, to --out
(default <run>/duee_pred.json), written atomically. With data.on_error = "skip", a bad line that has
an id is answered with an empty event_list; a line that is not JSON has no id to answer with and is
only counted. The model, event schema and vocab are the run folder's.
"""
from common import cli, commands
from ie_event.track import IEEvent

main = commands.command("predict", IEEvent, __doc__)

if __name__ == "__main__":
    cli.run(main)
