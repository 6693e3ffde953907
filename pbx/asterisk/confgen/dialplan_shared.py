"""The few contexts every company shares: whitelisted subroutines and the trunks' entry context.

Each shared subroutine takes the tenant's id as an argument and never jumps into any company's
context (the checker proves it): a company's context may call them, they only ``Return``.
Anything from outside (a caller's number, digits typed, AstDB values) is passed through
``FILTER()`` before it is used, because Asterisk substitutes ``${...}`` *before* an application
parses its arguments: an unfiltered ``,``, ``?`` or ``:`` would change what ``GotoIf`` does.
"""

from __future__ import annotations

# Contexts a company's dialplan may reach besides its own ``t<id>-`` contexts (checker.py); pbx-listen is
# reached only by the orchestrator's Originate (listen-in), and reaches no company's context.
SHARED_SUBROUTINES = (
    "pbx-agent",
    "pbx-callback-capture",
    "pbx-e164",
    "pbx-feature-answer",
    "pbx-listen",
    "pbx-ondemand-rec",
    "pbx-person",
    "pbx-presence",
    "pbx-reachable",
    "pbx-rec-answer",
    "pbx-rec-decide",
    "pbx-rec-queue",
    "pbx-recording-hook",
)

# Characters a contact's Dial string may hold (PJSIP_DIAL_CONTACTS gives PJSIP/<endpoint>/<contact URI>).
# A URI's user part may contain "," and "(": substituted into Dial() they would become Dial's options (U(),
# G() run dialplan), so a device whose contact has anything else is dialled as plain PJSIP/<endpoint>.
# FILTER() reads "x-y" as a range wherever a "-" follows a character, even at the end (then the "-" is
# lost: seen on Asterisk 22.10.1), so "-" is only ever written as the range "--." ("-" and "."). No ","
# (it ends FILTER's first argument), no brackets (an IPv6 host: plain PJSIP/<endpoint> then), and ";"
# written "\\;" (config.c reads a bare ";" as a comment).
DIAL_SAFE = "--./:@0-9A-Za-z\\;=_+~%&"
ENDPOINT_CHARS = "--._+0-9A-Za-z"  # what writer.name allows in an endpoint name
PJSIP_CHANNEL_CHARS = "--./0-9A-Za-z_+"  # PJSIP/<endpoint>-<8 hex digits>

SHARED_DIALPLAN = """
[pbx-recording-hook]
; THE recording-policy hook (docs/recording.md). Every call that could be recorded passes here on the calling
; channel before it is connected:
;   Gosub(pbx-recording-hook,s,1(<tenant id>,<in|out|queue>,<user id or queue id>[,<queue policy | the person's extension>]))
; It notes what the decision at answer time needs, inherited by the channels the call dials: PBX_RECT the
; company, PBX_RECK the kind of call for the department rules (i inbound external, o outbound external,
; n internal), PBX_RECO the other party's number (digits), PBX_RECQ the queue's policy (always/never); and
; sets PBX_RECOPT, the Dial options that decide on the answering channel (U(pbx-rec-answer^...)), or nothing
; when the company records nothing automatically now (service off or kill switch: rec/auto).
exten => s,1,MSet(PBX_RECOPT=,LOCAL(caller)=,LOCAL(u)=,LOCAL(opt)=)
 same => n,Set(LOCAL(t)=${FILTER(0123456789,${ARG1})})
 same => n,GotoIf($["${FILTER(0123456789,${DB(pbx/t${t}/rec/auto)})}" != "1"]?off,1)
 same => n,Set(__PBX_RECT=${t})
 same => n,GotoIf($["${ARG2}" = "queue"]?queue,1)
 same => n,GotoIf($["${ARG2}" = "out"]?out,1)
 same => n,Set(LOCAL(u)=${FILTER(0123456789,${ARG3})})
 same => n,Set(LOCAL(caller)=${FILTER(0123456789,${PBX_USER})})
 same => n,GotoIf($["${caller}" != ""]?internal,1)
; From outside, or a call that was transferred (the customer's own channel after a blind transfer, or the
; consultation's Local channel of an attended one, which inherits the call's kind and number and has no
; PBX_USER): the call stays what it was.
 same => n,ExecIf($["${PBX_RECK}" = ""]?Set(__PBX_RECK=i))
 same => n,Set(LOCAL(opt)=pbx-rec-answer^r^${u}^^)
 same => n,Goto(tell,1)
; A colleague calls: the callee's rule, else the caller's, whose other party is the callee's extension.
exten => internal,1,Set(__PBX_RECK=n)
 same => n,Set(__PBX_RECO=${FILTER(0123456789,${CALLERID(num)})})
 same => n,Set(LOCAL(opt)=pbx-rec-answer^r^${u}^${caller}^${FILTER(0123456789,${ARG4})})
 same => n,Goto(tell,1)
exten => out,1,Set(LOCAL(u)=${FILTER(0123456789,${PBX_RECFWD})})
 same => n,GotoIf($["${u}" != ""]?fwd,1)
 same => n,Set(LOCAL(u)=${FILTER(0123456789,${PBX_USER})})
 same => n,GotoIf($["${u}" = ""]?off,1)
 same => n,Set(__PBX_RECK=o)
 same => n,Set(__PBX_RECO=${FILTER(0123456789,${PBX_NUM})})
 same => n,Set(PBX_RECOPT=U(pbx-rec-answer^t^${u}))
 same => n,Return()
; Forwarded out (to a mobile, say) by the person's profile or status (PBX_RECFWD, set by pbx-person): the
; person it was for answers there, and the call stays what it was. A forward at once ("first") comes here
; before any Dial noted the call's kind: from outside, or from a colleague (PBX_USER; the number the caller
; showed is in t<T>-dialout's PBX_CID).
exten => fwd,1,ExecIf($["${PBX_RECK}" = ""]?Set(__PBX_RECK=${IF($["${FILTER(0123456789,${PBX_USER})}" = ""]?i:n)}))
 same => n,ExecIf($["${PBX_RECO}" = ""]?Set(__PBX_RECO=${FILTER(0123456789,${PBX_CID})}))
 same => n,Set(LOCAL(opt)=pbx-rec-answer^r^${u}^^)
 same => n,Goto(tell,1)
; The announcement (rec/ann): when the company has one and, as things stand before Dial, the call would be
; recorded, Dial's A() plays it to both at the answer ("a": the caller is answered for it) and
; pbx-rec-answer does not play it again (its 5th argument). Once per call: the call's first channel
; (MASTER_CHANNEL) keeps PBX_RECHEARD after the caller heard it.
exten => tell,1,Set(PBX_RECOPT=U(${opt}))
 same => n,Set(LOCAL(ann)=${FILTER(0123456789,${DB(pbx/t${t}/rec/ann)})})
 same => n,GotoIf($["${ann}" = "" | "${MASTER_CHANNEL(PBX_RECHEARD)}" = "1"]?off,1)
 same => n,Gosub(pbx-rec-decide,s,1(${t},${u}))
 same => n,GotoIf($["${GOSUB_RETVAL}" != ""]?announce,1)
 same => n,GotoIf($["${caller}" = ""]?off,1)
 same => n,Gosub(pbx-rec-decide,s,1(${t},${caller}))
 same => n,GotoIf($["${GOSUB_RETVAL}" = ""]?off,1)
 same => n,Goto(announce,1)
exten => announce,1,Set(LOCAL(p)=custom/t${t}/prompt-${ann})
 same => n,Set(PBX_RECOPT=aA(${p}:${p})U(${opt}^a))
 same => n,Return()
; Queue(): the agent's phone decides (t<T>-agents' Dial); a consent menu's "no" queue says never.
exten => queue,1,Set(__PBX_RECQ=${FILTER(a-z,${ARG4})})
 same => n,Set(PBX_RECFWD=)
 same => n,ExecIf($["${FILTER(0123456789,${PBX_USER})}" != ""]?MSet(__PBX_RECK=n,__PBX_RECO=${FILTER(0123456789,${CALLERID(num)})}))
 same => n,ExecIf($["${PBX_RECK}" = ""]?Set(__PBX_RECK=i))
 same => n,Return()
exten => off,1,Return()

[pbx-rec-queue]
; Queue()'s gosub, on the member's channel (Local/<user id>@t<T>-agents/n;1) once the queue chose the agent:
; when the agent's phone is being recorded (pbx-rec-answer noted it on the call's first channel), the agent
; hears the announcement. Only a member of the calling company's own agents context.
exten => s,1,Set(LOCAL(t)=${FILTER(0123456789,${PBX_RECT})})
 same => n,Set(LOCAL(ch)=${CHANNEL(name)})
 same => n,Set(LOCAL(where)=${CUT(ch,@,2)})
 same => n,Set(LOCAL(member)=${CUT(ch,@,1)})
 same => n,Set(LOCAL(member)=${FILTER(0123456789,${CUT(member,/,2)})})
 same => n,GotoIf($["${t}" = "" | "${member}" = "" | "${CUT(where,-,1)}" != "t${t}" | "${CUT(where,-,2)}" != "agents"]?done,1)
 same => n,GotoIf($["${MASTER_CHANNEL(PBX_RECU${member})}" != "1"]?done,1)
 same => n,Set(MASTER_CHANNEL(PBX_RECU${member})=)
 same => n,Set(LOCAL(ann)=${FILTER(0123456789,${DB(pbx/t${t}/rec/ann)})})
 same => n,ExecIf($["${ann}" != ""]?Playback(custom/t${t}/prompt-${ann}))
 same => n,Return()
exten => done,1,Return()

[pbx-rec-decide]
; Gosub(pbx-rec-decide,s,1(<tenant>,<person>)): why the person's call is recorded (queue, department,
; approved_number) or "" when it is not. The precedence (recording/policy.py): kill switch > excluded
; number > person not enabled > queue never > queue always / department rule / approved number.
exten => s,1,Set(LOCAL(db)=pbx/t${FILTER(0123456789,${ARG1})})
 same => n,Set(LOCAL(u)=${FILTER(0123456789,${ARG2})})
 same => n,GotoIf($["${u}" = ""]?no,1)
 same => n,GotoIf($["${FILTER(0123456789,${DB(${db}/rec/auto)})}" != "1"]?no,1)
 same => n,Set(LOCAL(o)=${FILTER(0123456789,${PBX_RECO})})
 same => n,Set(LOCAL(x)=${FILTER(0123456789:,${DB(${db}/rec/x)})})
 same => n,GotoIf($[${LEN(${o})} > 0 & ${LEN(${x})} > 0]?excl,1)
 same => n,Goto(person,1)
exten => excl,1,GotoIf($["${x}" =~ ":${o}:"]?no,1)
 same => n,Goto(person,1)
exten => person,1,Set(LOCAL(p)=${FILTER(eion,${DB(${db}/u${u}/rec)})})
 same => n,GotoIf($["${p:0:1}" != "e"]?no,1)
 same => n,Set(LOCAL(q)=${FILTER(a-z,${PBX_RECQ})})
 same => n,GotoIf($["${q}" = "never"]?no,1)
 same => n,GotoIf($["${q}" = "always"]?queue,1)
 same => n,Set(LOCAL(k)=${FILTER(ion,${PBX_RECK})})
 same => n,GotoIf($["${k}" != "" & ${LEN(${FILTER(${k},${p})})} > 0]?department,1)
 same => n,GotoIf($["${FILTER(0123456789,${PBX_RECN})}" = "1"]?approved,1)
 same => n,Goto(no,1)
exten => queue,1,Return(queue)
exten => department,1,Return(department)
exten => approved,1,Return(approved_number)
exten => no,1,Return()

[pbx-rec-answer]
; On the answering channel before the parties are connected (Dial's U(): a person's phone, a queue agent's
; phone, the trunk's channel of an outbound call or a forward):
;   Gosub(pbx-rec-answer,s,1(<r|t: which way of this channel is the person>,<person>[,<calling colleague>,
;         <the colleague's other party>[,<a: Dial's A() has announced it | q: a queue agent's phone>]]))
; An internal call is recorded for the callee's rule, else for the caller's (the sides swapped). The
; recording runs on this channel, so it ends when this person leaves the call (hangs up, transfers it on).
; Licences: one pool per company (GROUP pbxrec t<T>), shared with recording on demand and listen-in; a channel
; joins first, then counts, and leaves again when over the count, under a named lock, so a burst of answers
; never takes more than the licences. Over the count: connected unrecorded, PbxRecordingRefused for the log.
; MixMonitor writes the two ways to two files in step (r() and t()): the person's and the other party's.
exten => s,1,Set(LOCAL(t)=${FILTER(0123456789,${PBX_RECT})})
 same => n,Set(LOCAL(side)=${FILTER(rt,${ARG1})})
 same => n,Set(LOCAL(u)=${FILTER(0123456789,${ARG2})})
 same => n,Set(LOCAL(o)=${FILTER(0123456789,${PBX_RECO})})
 same => n,Set(LOCAL(how)=${FILTER(aq,${ARG5:0:1})})
 same => n,ExecIf($["${how}" = "a"]?Set(MASTER_CHANNEL(PBX_RECHEARD)=1))
 same => n,GotoIf($["${t}" = "" | "${side}" = ""]?done,1)
 same => n,Gosub(pbx-rec-decide,s,1(${t},${u}))
 same => n,Set(LOCAL(why)=${FILTER(a-z_,${GOSUB_RETVAL})})
 same => n,GotoIf($["${why}" != "" | "${FILTER(0123456789,${ARG3})}" = ""]?go,1)
 same => n,Set(LOCAL(u)=${FILTER(0123456789,${ARG3})})
 same => n,Set(LOCAL(o)=${FILTER(0123456789,${ARG4})})
 same => n,Set(LOCAL(side)=${IF($["${side}" = "r"]?t:r)})
 same => n,Gosub(pbx-rec-decide,s,1(${t},${u}))
 same => n,Set(LOCAL(why)=${FILTER(a-z_,${GOSUB_RETVAL})})
 same => n,Goto(go,1)
exten => go,1,GotoIf($["${why}" = ""]?done,1)
 same => n,Set(LOCAL(lic)=${FILTER(0123456789,${DB(pbx/t${t}/rec/lic)})})
 same => n,Set(LOCAL(locked)=${LOCK(pbxrec-t${t})})
 same => n,Set(GROUP(pbxrec)=t${t})
 same => n,Set(LOCAL(n)=${GROUP_COUNT(t${t}@pbxrec)})
 same => n,ExecIf($[${n} > 0${lic}]?Set(GROUP(pbxrec)=))
 same => n,ExecIf($["${locked}" = "1"]?Set(LOCAL(locked)=${UNLOCK(pbxrec-t${t})}))
 same => n,GotoIf($[${n} > 0${lic}]?full,1)
 same => n,Set(LOCAL(f)=${ASTSPOOLDIR}/monitor/pbx/t${t}/${STRFTIME(${EPOCH},UTC,%Y%m%d)}/${FILTER(0123456789.,${UNIQUEID})}-${EPOCH})
 same => n,Set(LOCAL(other)=${IF($["${side}" = "r"]?t:r)})
 same => n,MixMonitor(,b${side}(${f}-person.wav)${other}(${f}-other.wav)i(PBX_RECID))
 same => n,UserEvent(PbxRecording,Tenant: ${t},User: ${u},Reason: ${why},Kind: ${FILTER(ion,${PBX_RECK})},Other: ${o},Queue: ${FILTER(0123456789,${PBX_QUEUE})},Ddi: ${FILTER(+0123456789,${PBX_DDI})},File: ${f})
 same => n,GotoIf($["${how}" = "q"]?q,1)
 same => n,GotoIf($["${how}" = "a"]?done,1)
 same => n,Set(LOCAL(ann)=${FILTER(0123456789,${DB(pbx/t${t}/rec/ann)})})
 same => n,ExecIf($["${ann}" != ""]?Playback(custom/t${t}/prompt-${ann}))
 same => n,Return()
; A queue agent's phone answers before the queue has chosen among the agents ringing: the queue's gosub
; (pbx-rec-queue) tells the one it chose.
exten => q,1,Set(MASTER_CHANNEL(PBX_RECU${u})=1)
 same => n,Return()
exten => full,1,UserEvent(PbxRecordingRefused,Tenant: ${t},User: ${u},Kind: automatic,InUse: $[${n} - 1],Limit: ${lic})
 same => n,Return()
exten => done,1,Return()

[pbx-listen]
; Listen-in (pbx/actions/calls.py do_listen_in): AMI Originate of the listener's phone into this context, exten
; listen, whisper or barge, with PBX_SPY the channel to listen to. The company is the listener's own, read from
; its channel's name (PJSIP/t<T>-...), never from a variable; only a channel of that company (PJSIP/t<T>-...)
; still there can be listened to. Like a recording, a listen-in holds a licence of the company's one pool
; (pbx/asterisk/licences.py: GROUP pbxrec t<T>, joined then counted under LOCK(pbxrec-t<T>)) until the listener
; hangs up; over the count the phone says so and PbxRecordingRefused (Kind listen_in) is raised.
exten => listen,1,Set(PBX_SPYOPT=qE)
 same => n,Goto(s,1)
exten => whisper,1,Set(PBX_SPYOPT=qEw)
 same => n,Goto(s,1)
exten => barge,1,Set(PBX_SPYOPT=qEB)
 same => n,Goto(s,1)
exten => s,1,Set(PBX_LCH=${CHANNEL(name)})
 same => n,Set(PBX_LEP=${CUT(PBX_LCH,/,2)})
 same => n,Set(PBX_LT=${FILTER(0123456789,${CUT(PBX_LEP,-,1)})})
 same => n,GotoIf($["${CUT(PBX_LCH,/,1)}" != "PJSIP" | "t${PBX_LT}" != "${CUT(PBX_LEP,-,1)}" | "${PBX_SPYOPT}" = ""]?no,1)
 same => n,Set(PBX_SPYCH=${FILTER(<PJSIP_CHANNEL_CHARS>,${PBX_SPY})})
 same => n,GotoIf($[${LEN(${PBX_SPYCH})} = 0 | ${LEN(${PBX_SPYCH})} != ${LEN(${PBX_SPY})}]?no,1)
 same => n,Set(PBX_SPYEP=${CUT(PBX_SPYCH,/,2)})
 same => n,GotoIf($["${CUT(PBX_SPYCH,/,1)}" != "PJSIP" | "${CUT(PBX_SPYEP,-,1)}" != "t${PBX_LT}"]?no,1)
 same => n,GotoIf($["${PBX_SPYCH}" = "${PBX_LCH}" | "${CHANNEL_EXISTS(${PBX_SPYCH})}" != "1"]?no,1)
 same => n,Set(PBX_LIC=${FILTER(0123456789,${DB(pbx/t${PBX_LT}/rec/lic)})})
 same => n,Set(PBX_LOCKED=${LOCK(pbxrec-t${PBX_LT})})
 same => n,Set(GROUP(pbxrec)=t${PBX_LT})
 same => n,Set(PBX_INUSE=${GROUP_COUNT(t${PBX_LT}@pbxrec)})
 same => n,ExecIf($[${PBX_INUSE} > 0${PBX_LIC}]?Set(GROUP(pbxrec)=))
 same => n,ExecIf($["${PBX_LOCKED}" = "1"]?Set(PBX_LOCKED=${UNLOCK(pbxrec-t${PBX_LT})}))
 same => n,GotoIf($[${PBX_INUSE} > 0${PBX_LIC}]?full,1)
 same => n,ChanSpy(${PBX_SPYCH},${PBX_SPYOPT})
 same => n,Hangup()
exten => full,1,UserEvent(PbxRecordingRefused,Tenant: ${PBX_LT},User: ${FILTER(0123456789,${PBX_USER})},Kind: listen_in,InUse: $[${PBX_INUSE} - 1],Limit: ${PBX_LIC})
 same => n,Playback(all-circuits-busy-now&please-try-call-later)
 same => n,Hangup()
exten => no,1,Playback(feature-not-avail-line)
 same => n,Hangup()

[pbx-e164]
; Gosub(pbx-e164,s,1(<number as typed or presented>,<country calling code>)) returns +E.164.
exten => s,1,Set(LOCAL(n)=${FILTER(+0123456789,${ARG1})})
 same => n,Set(LOCAL(cc)=${FILTER(0123456789,${ARG2})})
 same => n,GotoIf($["${n:0:1}" = "+"]?plus,1)
 same => n,GotoIf($["${n:0:2}" = "00"]?intl,1)
 same => n,GotoIf($["${n:0:1}" = "0"]?natl,1)
 same => n,Return(${n})
exten => plus,1,Return(+${FILTER(0123456789,${n})})
exten => intl,1,Return(+${FILTER(0123456789,${n:2})})
exten => natl,1,Return(+${cc}${FILTER(0123456789,${n:1})})

[pbx-callback-capture]
; Gosub(pbx-callback-capture,s,1(<country calling code>)) asks for the number to call back
; (just # keeps the caller's own number), reads it back, and returns it as +E.164 once the caller
; pressed 1 to confirm; returns empty after three failed attempts.
exten => s,1,Set(LOCAL(tries)=0)
 same => n,Goto(ask,1)
exten => ask,1,Set(LOCAL(tries)=$[${tries} + 1])
 same => n,GotoIf($[${tries} > 3]?fail,1)
 same => n,Read(PBX_CBIN,vm-enter-num-to-call&vm-then-pound,20,,1,10)
 same => n,Set(LOCAL(num)=${FILTER(0123456789,${PBX_CBIN})})
 same => n,GotoIf($["${num}" = ""]?own,1)
 same => n,Goto(confirm,1)
exten => own,1,Set(LOCAL(num)=${FILTER(+0123456789,${CALLERID(num)})})
 same => n,GotoIf($["${num}" = ""]?ask,1)
 same => n,Goto(confirm,1)
exten => confirm,1,Playback(you-entered)
 same => n,SayDigits(${FILTER(0123456789,${num})})
 same => n,Read(PBX_CBOK,if-correct-press&digits/1,1,,1,5)
 same => n,GotoIf($["${FILTER(0123456789,${PBX_CBOK})}" = "1"]?done,1)
 same => n,Goto(ask,1)
exten => done,1,Gosub(pbx-e164,s,1(${num},${ARG1}))
 same => n,Return(${FILTER(+0123456789,${GOSUB_RETVAL})})
exten => fail,1,Return()

[pbx-reachable]
; Gosub(pbx-reachable,s,1(<endpoint>&<endpoint>...)) returns the Dial string of the devices that can
; answer now: each endpoint's reachable contacts (PJSIP_DIAL_CONTACTS: registered or static, not found
; unreachable by qualify); empty when none can. Dialling PJSIP/<endpoint> with no contact logs an ERROR
; ("Could not create dialog to invalid URI"), and an empty entry in Dial's & list fails the whole Dial,
; so endpoints without a contact are left out. A contact only ever reaches Set() and Dial(), and an
; expression only as its length (IF()/ExecIf() would cut a URI at ":" or "?"); one holding a character
; Dial() would parse ("," or "(" in a URI's user part) is dialled as plain PJSIP/<endpoint> instead.
exten => s,1,Set(LOCAL(i)=0)
 same => n,Set(LOCAL(dial)=)
 same => n,Goto(next,1)
exten => next,1,Set(LOCAL(i)=$[${i} + 1])
 same => n,Set(LOCAL(ep)=${FILTER(<ENDPOINT_CHARS>,${CUT(ARG1,&,${i})})})
 same => n,GotoIf($["${ep}" = ""]?done,1)
 same => n,Set(LOCAL(c)=${PJSIP_DIAL_CONTACTS(${ep})})
 same => n,GotoIf($[${LEN(${c})} = 0]?next,1)
 same => n,ExecIf($[${LEN(${c})} != ${LEN(${FILTER(<DIAL_SAFE>,${c})})}]?Set(LOCAL(c)=PJSIP/${ep}))
 same => n,GotoIf($[${LEN(${dial})} = 0]?first,1)
 same => n,Set(LOCAL(dial)=${dial}&${c})
 same => n,Goto(next,1)
exten => first,1,Set(LOCAL(dial)=${c})
 same => n,Goto(next,1)
exten => done,1,Return(${dial})

[pbx-person]
; A call to a person: Gosub(pbx-person,s,1(<tenant>,<user>,<fixed|mobile>,<endpoints>,<mailbox@ctx>,<hint@ctx>,
; <rules>)). <endpoints> is "a&b" (endpoint names); <rules> is where the rules in force are in AstDB: ""
; for the person's base keys (the profile switched on by hand, or the defaults), "sp<N>/" for a scheduled
; profile whose schedule is open (t<id>-profile decides). The person's fast state comes from AstDB
; (docs/astdb.md), so a status or profile change needs no reload. Returns what the company's
; t<id>-person context does next: status (PBX_ST holds the code), forward (PBX_FWD holds the number),
; vmbusy, vmunavail (PBX_VM holds the mailbox), busy or hangup. PBX_HOPS counts the people a call has
; been forwarded through: a forwarding loop (A to B to A) ends as busy after five. PBX_PERSON and PBX_STEP
; (first, busy, noanswer, unreach) tell the company's context whose forward or voicemail it is and why,
; for the call log (PbxForward/PbxVoicemail).
exten => s,1,Set(LOCAL(db)=pbx/t${FILTER(0123456789,${ARG1})}/u${FILTER(0123456789,${ARG2})})
 same => n,Set(PBX_PERSON=${FILTER(0123456789,${ARG2})})
 same => n,MSet(PBX_STEP=,PBX_RECFWD=)
 same => n,Set(PBX_HOPS=$[0${FILTER(0123456789,${PBX_HOPS})} + 1])
 same => n,GotoIf($[${PBX_HOPS} > 5]?loop,1)
 same => n,Set(LOCAL(line)=${FILTER(0123456789ps/,${ARG7})}${FILTER(a-z,${ARG3})})
 same => n,Set(PBX_VM=${ARG5})
 same => n,Set(PBX_FWD=)
 same => n,Set(PBX_ST=${FILTER(0123456789,${DB(${db}/status)})})
 same => n,Set(LOCAL(until)=${FILTER(0123456789,${DB(${db}/status_until)})})
 same => n,ExecIf($[0${until} > 0 & ${EPOCH} >= 0${until}]?Set(PBX_ST=))
 same => n,GotoIf($["${PBX_ST}" != "" & ${DIALPLAN_EXISTS(t${FILTER(0123456789,${ARG1})}-status-fwd,${PBX_ST},1)}]?status,1)
 same => n,Set(LOCAL(step)=first)
 same => n,Set(LOCAL(do)=${FILTER(a-z,${DB(${db}/${line}/first)})})
 same => n,GotoIf($["${do}" != "" & "${do}" != "ring"]?act,1)
 same => n,GotoIf($["${FILTER(0-9,${DB(${db}/dnd)})}" = "1"]?busy,1)
 same => n,GotoIf($["${ARG4}" = ""]?unreach,1)
 same => n,GotoIf($["${FILTER(0-9,${DB(${db}/cw)})}" = "0" & "${ARG6}" != ""]?cw,1)
 same => n,Goto(ring,1)
exten => status,1,Set(PBX_RECFWD=${PBX_PERSON})
 same => n,Return(status)
exten => loop,1,Return(busy)
exten => cw,1,Set(LOCAL(state)=${EXTENSION_STATE(${ARG6})})
 same => n,GotoIf($["${state}" = "INUSE" | "${state}" = "BUSY" | "${state}" = "RINGINUSE"]?busy,1)
 same => n,GotoIf($["${state}" = "ONHOLD" | "${state}" = "HOLDINUSE"]?busy,1)
 same => n,Goto(ring,1)
exten => ring,1,Set(LOCAL(secs)=${FILTER(0123456789,${DB(${db}/${line}/ring_s)})})
 same => n,Gosub(pbx-reachable,s,1(${ARG4}))
 same => n,Set(LOCAL(dial)=${GOSUB_RETVAL})
 same => n,GotoIf($[${LEN(${dial})} = 0]?unreach,1)
 same => n,Gosub(pbx-recording-hook,s,1(${ARG1},in,${ARG2},${CUT(ARG6,@,1)}))
 same => n,Dial(${dial},${IF($[0${secs} > 0]?${secs}:20)},t${PBX_COPTS}${PBX_RECOPT})
 same => n,GotoIf($["${DIALSTATUS}" = "BUSY"]?busy,1)
 same => n,GotoIf($["${DIALSTATUS}" = "NOANSWER"]?noanswer,1)
 same => n,GotoIf($["${DIALSTATUS}" = "CHANUNAVAIL" | "${DIALSTATUS}" = "CONGESTION"]?unreach,1)
 same => n,Return(hangup)
exten => busy,1,Set(LOCAL(step)=busy)
 same => n,Goto(after,1)
exten => noanswer,1,Set(LOCAL(step)=noanswer)
 same => n,Goto(after,1)
exten => unreach,1,Set(LOCAL(step)=unreach)
 same => n,Goto(after,1)
exten => after,1,Set(LOCAL(do)=${FILTER(a-z,${DB(${db}/${line}/${step})})})
 same => n,ExecIf($["${do}" = ""]?Set(LOCAL(do)=voicemail))
 same => n,Goto(act,1)
exten => act,1,Set(PBX_STEP=${step})
 same => n,GotoIf($["${do}" = "forward"]?fwd,1)
 same => n,GotoIf($["${do}" = "voicemail" & "${PBX_VM}" != ""]?vm,1)
 same => n,Return(${IF($["${step}" = "busy"]?busy:hangup)})
exten => vm,1,Return(${IF($["${step}" = "busy"]?vmbusy:vmunavail)})
exten => fwd,1,Set(PBX_FWD=${FILTER(+0123456789,${DB(${db}/${line}/${step}_to)})})
 same => n,GotoIf($["${PBX_FWD}" = ""]?act2,1)
 same => n,Set(PBX_RECFWD=${PBX_PERSON})
 same => n,Return(forward)
exten => act2,1,Return(${IF($["${step}" = "busy"]?busy:hangup)})

[pbx-presence]
; *20<code> / *21 from a phone: Gosub(pbx-presence,s,1(<tenant>,<code or empty>,<company's time zone>)).
; Only an event: the orchestrator runs do_set_presence / do_clear_presence for the person (the database,
; then AstDB and the BLF presence from it) and answers on this channel; a status that needs an end time
; gets its default one, which the phone says (PBX_UNTIL).
exten => s,1,Set(LOCAL(user)=${FILTER(0123456789,${PBX_USER})})
 same => n,GotoIf($["${user}" = ""]?denied,1)
 same => n,Answer()
 same => n,MSet(PBX_ANSWER=,PBX_UNTIL=)
 same => n,UserEvent(PbxPresence,Tenant: ${FILTER(0123456789,${ARG1})},User: ${user},Code: ${FILTER(0123456789,${ARG2})})
 same => n,Gosub(pbx-feature-answer,s,1(beep,${ARG3},5))
 same => n,Return()
exten => denied,1,Playback(feature-not-avail-line)
 same => n,Return()

[pbx-agent]
; *45 / *46 / *47 from a phone: Gosub(pbx-agent,s,1(<tenant>,<login|logout|pause>,<sound>)).
; Only an event: the orchestrator runs do_queue_login/logout/pause for the person, which checks
; that they are an agent of the queue (PBX_QEXT: its extension, or all their queues), writes the
; audit row and the AstDB key, and adds or removes the queue member through AMI; then it answers.
exten => s,1,Set(LOCAL(user)=${FILTER(0123456789,${PBX_USER})})
 same => n,GotoIf($["${user}" = ""]?denied,1)
 same => n,Answer()
 same => n,MSet(PBX_ANSWER=,PBX_UNTIL=)
 same => n,UserEvent(PbxQueueAgent,Action: ${FILTER(a-z,${ARG2})},Tenant: ${FILTER(0123456789,${ARG1})},User: ${user},QueueExtension: ${FILTER(0123456789,${PBX_QEXT})})
 same => n,Gosub(pbx-feature-answer,s,1(${ARG3},,5))
 same => n,Return()
exten => denied,1,Playback(feature-not-avail-line)
 same => n,Return()

[pbx-ondemand-rec]
; features.conf applicationmap: the person pressed an on-demand recording key during a call.
; The orchestrator starts, pauses or stops MixMonitor through AMI after its licence and policy
; checks, so the keys only announce the wish, and the presser hears whether it happened.
exten => toggle,1,MSet(PBX_ANSWER=,PBX_UNTIL=)
 same => n,UserEvent(PbxOnDemandRecording,Key: toggle,Tenant: ${FILTER(0123456789,${PBX_TENANT})},User: ${FILTER(0123456789,${PBX_USER})})
 same => n,Gosub(pbx-feature-answer,s,1(beep,,3))
 same => n,Return()
exten => pause,1,MSet(PBX_ANSWER=,PBX_UNTIL=)
 same => n,UserEvent(PbxOnDemandRecording,Key: pause,Tenant: ${FILTER(0123456789,${PBX_TENANT})},User: ${FILTER(0123456789,${PBX_USER})})
 same => n,Gosub(pbx-feature-answer,s,1(beep,,3))
 same => n,Return()

[pbx-feature-answer]
; After a UserEvent the orchestrator acts on: Gosub(pbx-feature-answer,s,1(<sound if done>,<time zone>,<seconds>)).
; The event bridge answers with AMI Setvar on this channel: PBX_ANSWER ok or refused, PBX_UNTIL the Unix
; time a change lasts until. WaitForCondition (app_waitforcond) polls for it, so the phone never says
; "done" before it was done, and says "try later" when nobody answered (the bridge or Django is down).
exten => s,1,Set(LOCAL(secs)=${FILTER(0123456789,${ARG3})})
 same => n,WaitForCondition(#,#["#{PBX_ANSWER}" != ""],${IF($[0${secs} > 0]?${secs}:5)},0.1)
 same => n,Set(LOCAL(answer)=${FILTER(a-z,${PBX_ANSWER})})
 same => n,GotoIf($["${answer}" = "ok"]?ok,1)
 same => n,GotoIf($["${answer}" = "" | "${answer}" = "later"]?later,1)
 same => n,Playback(feature-not-avail-line)
 same => n,Return(refused)
exten => ok,1,Playback(${ARG1})
 same => n,Set(LOCAL(until)=${FILTER(0123456789,${PBX_UNTIL})})
 same => n,GotoIf($[0${until} > 0]?until,1)
 same => n,Return(ok)
exten => until,1,SayUnixTime(${until},${ARG2},HM)
 same => n,Return(ok)
exten => later,1,Playback(please-try-call-later)
 same => n,Return(later)
""".replace("<DIAL_SAFE>", DIAL_SAFE).replace("<ENDPOINT_CHARS>", ENDPOINT_CHARS).replace(
    "<PJSIP_CHANNEL_CHARS>", PJSIP_CHANNEL_CHARS)
