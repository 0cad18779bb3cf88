"""Drives Signet's Wyoming door with the `wyoming` package's own async TCP
client, as Home Assistant does, for the signet-server tests.

Usage: wyoming_client.py COMMAND HOST PORT [JSON]
  describe                         print the info event's data
  synthesize {"text", "voice"}     one synthesize request
  stream {"chunks", "voice"}       synthesize-start, a chunk per item, the
                                   compatibility synthesize, synthesize-stop
Prints one JSON object: the event types received, the audio format, the
number of samples, and seconds from the request to the first audio chunk.
"""

import asyncio
import json
import sys
import time

from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.info import Describe, Info
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)


async def collect(client, t0, streaming):
    out = {"events": [], "samples": 0, "rate": None, "width": None,
           "channels": None, "first_audio_s": None, "error": None}
    while True:
        event = await client.read_event()
        if event is None:
            out["events"].append("EOF")
            break
        out["events"].append(event.type)
        if AudioStart.is_type(event.type):
            start = AudioStart.from_event(event)
            out["rate"], out["width"], out["channels"] = start.rate, start.width, start.channels
        elif AudioChunk.is_type(event.type):
            chunk = AudioChunk.from_event(event)
            if out["first_audio_s"] is None:
                out["first_audio_s"] = time.monotonic() - t0
            out["samples"] += chunk.samples
        elif AudioStop.is_type(event.type) and not streaming:
            break
        elif SynthesizeStopped.is_type(event.type):
            break
        elif Error.is_type(event.type):
            out["error"] = Error.from_event(event).code
            break
    return out


def voice(args):
    v = args.get("voice")
    return SynthesizeVoice(**v) if v else None


async def main():
    command, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    args = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    async with AsyncTcpClient(host, port) as client:
        t0 = time.monotonic()
        if command == "describe":
            await client.write_event(Describe().event())
            event = await client.read_event()
            print(json.dumps(Info.from_event(event).event().data))
            return
        if command == "synthesize":
            await client.write_event(Synthesize(text=args["text"], voice=voice(args)).event())
            print(json.dumps(await collect(client, t0, False)))
            return
        if command == "stream":
            sent = {}

            async def send_text():
                await client.write_event(SynthesizeStart(voice=voice(args)).event())
                for chunk in args["chunks"]:
                    await client.write_event(SynthesizeChunk(text=chunk).event())
                    await asyncio.sleep(args.get("chunk_delay_s", 0))
                # Home Assistant repeats the whole text for servers that do not stream.
                await client.write_event(
                    Synthesize(text="".join(args["chunks"]), voice=voice(args)).event())
                await client.write_event(SynthesizeStop().event())
                sent["all_sent_s"] = time.monotonic() - t0

            # Audio is read while the text is still being sent, as Home Assistant does.
            writer = asyncio.create_task(send_text())
            out = await collect(client, t0, True)
            await writer
            out.update(sent)
            print(json.dumps(out))
            return
        raise SystemExit(f"unknown command {command}")


asyncio.run(main())
