"""Write the GDPR citation example's data files from the tables below.

Every question was written by hand for one GDPR article. Each article has five questions: the third
goes to the validation file, the other four to training, so the held-out questions ask about the same
articles in words the model has never seen. Deterministic: running it twice writes the same bytes.

    data/train.jsonl, data/valid.jsonl          RFT prompts (+ article, accepted_articles, topic)
    data/sft_train.jsonl, data/sft_valid.jsonl  the same prompts with a demonstration answer ("Article N
                                                ..., because ..."), for the supervised warm start

    python examples/legal_compliance/make_data.py
"""

from __future__ import annotations

import json
from pathlib import Path

# The index of article titles in the system prompt plays the part of a retrieval step: the model learns
# to pick the article that governs a situation and to cite it, not to recite the regulation.
INDEX = (
    "5 principles; 6 lawful bases; 7 conditions for consent; 8 child's consent; 9 special categories of data; "
    "12 transparency and response deadlines; 13 information when data is collected from the person; "
    "14 information when data comes from elsewhere; 15 right of access; 16 rectification; "
    "17 erasure (right to be forgotten); 18 restriction of processing; 20 data portability; 21 right to object; "
    "22 automated decisions and profiling; 25 data protection by design and by default; 28 processors; "
    "30 records of processing; 32 security of processing; 33 breach notification to the supervisory authority; "
    "34 breach communication to data subjects; 35 impact assessment; 37 designation of a DPO; "
    "38 position of the DPO; 39 tasks of the DPO; 45 adequacy decisions; 46 transfers with appropriate "
    "safeguards; 49 transfer derogations; 77 complaint to a supervisory authority; 82 compensation; 83 fines."
)
SYSTEM = (
    "You are a GDPR compliance assistant. Answer in one sentence that cites the GDPR article governing the "
    f"question. GDPR articles: {INDEX}"
)
# Repeated in the user turn: a 135M model follows an instruction there far more often (measured: about
# half its samples then start with a citation, against almost none with the system prompt alone).
ASK = ' Reply in one sentence starting with "Article" and its number.'
DPO = ["37", "38", "39"]

# article -> (topic, accepted articles besides itself, five questions)
QUESTIONS: dict[str, tuple[str, list[str], list[str]]] = {
    "5": (
        "principles",
        [],
        [
            "Which GDPR article sets out the core principles such as purpose limitation and data minimisation?",
            "We keep former customers' data forever just in case; which principle-setting article does that breach?",
            "Where does the GDPR require personal data to be accurate and kept up to date?",
            "Which article makes the controller responsible for demonstrating compliance (accountability)?",
            "Our marketing team wants to reuse HR data for an unrelated campaign; which article limits purposes?",
        ],
    ),
    "6": (
        "lawful bases",
        [],
        [
            "Which article lists the lawful bases for processing personal data?",
            "Can we rely on legitimate interests to process customer emails, and where is that basis defined?",
            "A payroll provider processes salaries to perform an employment contract; which article gives the basis?",
            "Which GDPR article allows processing that is necessary to comply with a legal obligation?",
            "Where are the six legal grounds for processing, including vital interests and public task, listed?",
        ],
    ),
    "7": (
        "conditions for consent",
        [],
        [
            "Where does the GDPR say withdrawing consent must be as easy as giving it?",
            "Which article requires the controller to be able to demonstrate that the data subject consented?",
            "Our sign-up form bundles consent with the terms of service; which article sets the conditions?",
            "Can we make a service conditional on consent to unnecessary processing, and which article covers it?",
            "Which article says a written consent request must be clearly distinguishable from other matters?",
        ],
    ),
    "8": (
        "children's consent",
        [],
        [
            "At what age can a child consent to an online service on their own, and which article sets it?",
            "Our gaming app targets 14-year-olds; which article governs parental consent for them?",
            "Which article lets member states lower the age of digital consent to 13?",
            "Where must an online service make reasonable efforts to verify parental consent?",
            "A social network wants to sign up teenagers; which article covers a child's consent?",
        ],
    ),
    "9": (
        "special categories",
        [],
        [
            "Which article restricts processing of health data and other special categories?",
            "We want to use employees' fingerprints for clocking in; which article covers biometric data?",
            "Where does the GDPR prohibit processing data revealing religious beliefs unless an exception applies?",
            "Which article governs processing of genetic data by a research lab?",
            "A survey asks about trade union membership and political opinions; which article applies?",
        ],
    ),
    "12": (
        "transparency and modalities",
        [],
        [
            "Within what deadline must we answer a data subject request, and which article sets it?",
            "Which article requires information to be given in concise, clear and plain language?",
            "Can we charge a fee for handling a subject access request, and which article decides?",
            "Which article lets a controller refuse manifestly unfounded or excessive requests?",
            "Where does the GDPR allow extending the response time for complex requests by two more months?",
        ],
    ),
    "13": (
        "information at collection",
        ["12"],
        [
            "What must our privacy notice tell users when we collect data directly from them, per which article?",
            "Which article lists the information to give at the time data is obtained from the data subject?",
            "A web form collects email addresses; which article says what we must tell the user at that moment?",
            "Where must we disclose the retention period when collecting data from the person themselves?",
            "Which article requires naming the contact details of the DPO in the notice given at collection?",
        ],
    ),
    "14": (
        "information when data not obtained from the subject",
        ["12"],
        [
            "We bought a contact list from a broker; which article says what we must tell those people?",
            "Which article covers informing people whose data was obtained from a third party?",
            "Within a month of obtaining data from another source we must inform the person; which article?",
            "Where must we disclose the source of personal data that did not come from the data subject?",
            "A recruiter scraped profiles from a public site; which article governs the notice owed to them?",
        ],
    ),
    "15": (
        "right of access",
        [],
        [
            "A customer asks for a copy of all data we hold on them; which article gives that right?",
            "Which article grants the right of access to personal data?",
            "An employee wants to know what data HR keeps and why; under which article can they ask?",
            "Where does the GDPR let individuals obtain confirmation that their data is being processed?",
            "Which article covers a subject access request?",
        ],
    ),
    "16": (
        "rectification",
        [],
        [
            "A client says their address on file is wrong; which article lets them correct it?",
            "Which article provides the right to rectification?",
            "A patient wants incomplete records completed with a supplementary statement; which article applies?",
            "Where does the GDPR let people have inaccurate personal data corrected without undue delay?",
            "Our CRM misspells a customer's name and they complain; which article gives them a remedy?",
        ],
    ),
    "17": (
        "erasure",
        [],
        [
            "Which GDPR article grants the right to be forgotten?",
            "A former customer asks us to delete all their data; which article governs erasure?",
            "Which article covers deletion of personal data that is no longer necessary for its purpose?",
            "Someone withdrew consent and wants their photos removed from our site; which article applies?",
            "Where does the GDPR require erasing data that was processed unlawfully?",
        ],
    ),
    "18": (
        "restriction",
        [],
        [
            "Which article lets a data subject ask us to restrict processing while accuracy is contested?",
            "Which GDPR article covers the right to restriction of processing?",
            "A user wants us to keep but stop using their data pending a legal claim; which article applies?",
            "Where is the right to have data marked and only stored, not used, set out?",
            "Instead of erasure, a person asks us to limit use of unlawfully processed data; which article?",
        ],
    ),
    "20": (
        "portability",
        [],
        [
            "A user wants their data in a machine-readable format to move to a competitor; which article?",
            "Which article provides the right to data portability?",
            "Where does the GDPR require giving data in a structured, commonly used format?",
            "Can a customer ask us to transmit their data directly to another controller, per which article?",
            "A bank client wants their transaction history exported to a new bank's app; which right applies?",
        ],
    ),
    "21": (
        "right to object",
        [],
        [
            "A customer objects to receiving direct marketing; which article obliges us to stop?",
            "Which article gives the right to object to processing based on legitimate interests?",
            "Where does the GDPR say we must stop profiling for direct marketing when someone objects?",
            "Which article covers the right to object?",
            "A resident objects to a public body's processing on grounds of their situation; which article applies?",
        ],
    ),
    "22": (
        "automated decisions",
        [],
        [
            "An algorithm rejects loan applications with no human review; which article governs this?",
            "Which article protects people from decisions based solely on automated processing?",
            "Where does the GDPR give the right to obtain human intervention in an automated decision?",
            "Our hiring tool auto-rejects candidates by profiling; which article applies?",
            "Which article covers profiling that produces legal or similarly significant effects?",
        ],
    ),
    "25": (
        "by design and by default",
        [],
        [
            "Which article requires data protection by design and by default?",
            "We are building a new app; which article says privacy must be built in from the start?",
            "Where does the GDPR require default settings to process only the data necessary?",
            "Which article asks controllers to implement pseudonymisation at the design stage of a system?",
            "Profiles on our platform are public by default; which article does that setting conflict with?",
        ],
    ),
    "28": (
        "processors",
        [],
        [
            "What must a contract with our cloud processor contain, according to which article?",
            "Which article governs data processing agreements between controllers and processors?",
            "Can our processor hire a sub-processor without our authorisation, and which article answers?",
            "Which article requires processors to act only on documented instructions from the controller?",
            "We outsource payroll to a vendor; which article sets the terms for that processor?",
        ],
    ),
    "30": (
        "records of processing",
        [],
        [
            "Which article requires keeping records of processing activities?",
            "Does a company with fewer than 250 employees need a processing register, per which article?",
            "Where does the GDPR list what a controller's record of processing must contain?",
            "A supervisory authority asks for our processing inventory; which article obliges us to keep it?",
            "Which article makes processors also maintain a record of processing categories?",
        ],
    ),
    "32": (
        "security",
        [],
        [
            "Which article requires appropriate technical and organisational security measures?",
            "Does the GDPR mention encryption as a security measure, and in which article?",
            "Where does the GDPR require regularly testing the effectiveness of security measures?",
            "Our database has no access control; which article on security of processing are we breaching?",
            "Which article asks for the ability to restore availability of data after an incident?",
        ],
    ),
    "33": (
        "breach notification to the authority",
        [],
        [
            "Within how many hours must a data breach be reported to the supervisory authority, per which article?",
            "Which article governs notifying the supervisory authority of a personal data breach?",
            "A laptop with customer data was stolen; which article tells us when to notify the regulator?",
            "Where does the GDPR require documenting every personal data breach, even unreported ones?",
            "Our processor discovered a breach; which article says it must inform us without undue delay?",
        ],
    ),
    "34": (
        "breach communication to data subjects",
        [],
        [
            "When must we tell affected individuals about a data breach, and which article says so?",
            "Which article governs communicating a high-risk breach to the data subjects?",
            "Leaked passwords put users at high risk; which article requires informing the users themselves?",
            "Where does the GDPR exempt us from telling individuals about a breach if the data was encrypted?",
            "Which article covers the communication of a personal data breach to the data subject?",
        ],
    ),
    "35": (
        "impact assessment",
        [],
        [
            "Which article requires a data protection impact assessment?",
            "We plan large-scale CCTV monitoring of a public area; which article requires assessing the risk first?",
            "When is a DPIA mandatory before processing, according to which article?",
            "A hospital rolls out large-scale processing of health records; which article requires a DPIA?",
            "Where does the GDPR list what a data protection impact assessment must contain?",
        ],
    ),
    "37": (
        "data protection officer",
        DPO,
        [
            "When must an organisation appoint a data protection officer, and which article says so?",
            "Does a public authority need a DPO, per which article?",
            "A company's core activity is large-scale monitoring of individuals; which article requires a DPO?",
            "Which article requires publishing the DPO's contact details and telling the authority?",
            "Can a group of companies appoint a single DPO, and which article allows it?",
        ],
    ),
    "38": (
        "position of the DPO",
        DPO,
        [
            "Can we dismiss our DPO for the advice they give, and which article protects them?",
            "Which article says the DPO must not receive instructions regarding their tasks?",
            "Where does the GDPR say the DPO reports to the highest management level?",
            "Which article requires giving the DPO the resources needed to do the job?",
            "Our DPO also sets processing purposes as head of marketing; which article on conflicts applies?",
        ],
    ),
    "45": (
        "adequacy decisions",
        [],
        [
            "Can we send data to a country the Commission found adequate without extra safeguards?",
            "Which article governs transfers on the basis of an adequacy decision?",
            "Where does the GDPR let the European Commission decide a third country ensures adequate protection?",
            "We send HR data to a subsidiary in a country with an adequacy decision; which article applies?",
            "Which article lists what the Commission assesses before declaring a country adequate?",
        ],
    ),
    "46": (
        "transfer safeguards",
        [],
        [
            "Which article allows transfers subject to appropriate safeguards such as standard contractual clauses?",
            "We use standard contractual clauses to send data to a US vendor; which article are they based on?",
            "With no adequacy decision, which article lets us transfer data under appropriate safeguards?",
            "Where does the GDPR list approved codes of conduct and certification as transfer safeguards?",
            "Which article requires enforceable rights and effective remedies for transfers under safeguards?",
        ],
    ),
    "49": (
        "transfer derogations",
        [],
        [
            "Which article allows a transfer based on the data subject's explicit consent when no safeguards exist?",
            "A one-off transfer is needed to book a customer's hotel abroad; which article permits it?",
            "Where are the derogations for specific situations in international transfers listed?",
            "Which article allows a transfer necessary to defend a legal claim in a third country?",
            "Can an occasional transfer rely on compelling legitimate interests, and which article governs it?",
        ],
    ),
    "77": (
        "complaint to the authority",
        [],
        [
            "Where can a person lodge a complaint about our processing, and which article gives that right?",
            "Which article gives the right to lodge a complaint with a supervisory authority?",
            "A user thinks we ignored their erasure request; which article lets them complain to the regulator?",
            "Can a data subject complain to the authority in their country of residence, per which article?",
            "Which article covers complaints to the data protection authority?",
        ],
    ),
    "82": (
        "compensation",
        [],
        [
            "Can a data subject claim damages for distress caused by a breach, and under which article?",
            "Which article gives the right to compensation for material or non-material damage?",
            "Where does the GDPR make controllers and processors liable for damage caused by infringements?",
            "A customer suffered financial loss after our data leak; which article lets them claim compensation?",
            "Which article covers liability and the right to compensation?",
        ],
    ),
    "83": (
        "administrative fines",
        [],
        [
            "What is the maximum GDPR fine, 20 million euros or 4% of turnover, and which article sets it?",
            "Which article sets the general conditions for imposing administrative fines?",
            "Where does the GDPR list the factors authorities consider when deciding the amount of a fine?",
            "Which article provides the lower fine tier of 10 million euros or 2% of turnover?",
            "A regulator fined a company for missing consent; which article governs the fine?",
        ],
    ),
}

HELD_OUT_INDEX = 2  # the third question of each article is held out

# article -> why it governs: the "because" of every demonstration answer for that article (no other number
# in it, so each demonstration cites exactly one article and scores 1.0 on the reward).
REASONS: dict[str, str] = {
    "5": "it sets the core principles of purpose limitation, minimisation, accuracy and accountability",
    "6": "it lists the lawful bases for processing, from consent and contract to legitimate interests",
    "7": "it sets the conditions for valid consent, including proof and easy withdrawal",
    "8": "it governs a child's consent to online services and the parental consent below the digital age",
    "9": "it restricts processing of special categories such as health, biometric and genetic data",
    "12": "it sets how and how quickly requests are answered, in clear language and usually free of charge",
    "13": "it lists the information owed to people when their data is collected from them",
    "14": "it lists the information owed when personal data was obtained from another source",
    "15": "it gives the data subject the right of access to their personal data",
    "16": "it gives the right to have inaccurate or incomplete personal data rectified",
    "17": "it gives the right to erasure, the right to be forgotten",
    "18": "it gives the right to restrict processing so the data is kept but not used",
    "20": "it gives the right to data portability in a structured, machine-readable format",
    "21": "it gives the right to object, absolute for direct marketing",
    "22": "it protects people from decisions based solely on automated processing, including profiling",
    "25": "it requires data protection by design and by default",
    "28": "it sets the contract terms and duties of processors acting for a controller",
    "30": "it requires records of processing activities",
    "32": "it requires appropriate technical and organisational security measures",
    "33": "it governs notifying the supervisory authority of a personal data breach",
    "34": "it governs communicating a high-risk personal data breach to the people affected",
    "35": "it requires a data protection impact assessment before high-risk processing",
    "37": "it says when a data protection officer must be designated",
    "38": "it protects the position and independence of the data protection officer",
    "45": "it allows transfers to countries covered by an adequacy decision",
    "46": "it allows transfers under appropriate safeguards such as standard contractual clauses",
    "49": "it lists the derogations for transfers in specific situations",
    "77": "it gives the right to lodge a complaint with a supervisory authority",
    "82": "it gives the right to compensation and sets liability for damage",
    "83": "it sets the conditions and tiers of administrative fines",
}
# Four openings, one per training question of an article, so the model learns the citation, not one sentence.
OPENINGS = (
    "Article {n} governs this, because {why}.",
    "Article {n} applies because {why}.",
    "Article {n}, because {why}.",
    "Article {n} is the relevant one: {why}.",
)


def row(article: str, topic: str, accepted: list[str], question: str) -> dict:
    return {
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question + ASK}],
        "article": article,
        "accepted_articles": sorted({article, *accepted}, key=int),
        "topic": topic,
    }


def answer(article: str, i: int) -> str:
    """The demonstration answer to the i-th question of `article`: the citation first, then why."""
    return OPENINGS[i % len(OPENINGS)].format(n=article, why=REASONS[article])


def sft_row(article: str, question: str, i: int) -> dict:
    """A supervised row (OpenAI chat format): the RFT prompt plus the demonstration answer; nothing else, as
    the supervised format has no extra fields."""
    prompt = row(article, "", [], question)["messages"]
    return {"messages": [*prompt, {"role": "assistant", "content": answer(article, i)}]}


def build_sft() -> tuple[list[dict], list[dict]]:
    """Demonstrations: the 120 training questions answered (sft_train.jsonl), and the 30 held-out questions
    answered (sft_valid.jsonl: only for the SFT job's validation loss, never trained on)."""
    train: list[dict] = []
    valid: list[dict] = []
    for article, (_topic, _accepted, questions) in QUESTIONS.items():
        held_out = questions[HELD_OUT_INDEX]
        training = [q for i, q in enumerate(questions) if i != HELD_OUT_INDEX]
        train.extend(sft_row(article, question, j) for j, question in enumerate(training))
        valid.append(sft_row(article, held_out, 0))
    return train, valid


def build() -> tuple[list[dict], list[dict]]:
    train: list[dict] = []
    valid: list[dict] = []
    for article, (topic, accepted, questions) in QUESTIONS.items():
        for i, question in enumerate(questions):
            (valid if i == HELD_OUT_INDEX else train).append(row(article, topic, accepted, question))
    return train, valid


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def main() -> None:
    data = Path(__file__).parent / "data"
    data.mkdir(exist_ok=True)
    train, valid = build()
    write_jsonl(data / "train.jsonl", train)
    write_jsonl(data / "valid.jsonl", valid)
    sft_train, sft_valid = build_sft()
    write_jsonl(data / "sft_train.jsonl", sft_train)
    write_jsonl(data / "sft_valid.jsonl", sft_valid)
    print(f"wrote {len(train)} training and {len(valid)} validation prompts to {data}")
    print(f"wrote {len(sft_train)} demonstrations and {len(sft_valid)} held-out demonstrations (SFT) to {data}")


if __name__ == "__main__":
    main()
