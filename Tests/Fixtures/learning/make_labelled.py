#!/usr/bin/env python3
"""Writes labelled.jsonl: tasks written for fleetd's predictive-routing test (not from any public
router benchmark). Each line: id, type, prompt, needsStrong (1: a small model such as a Haiku- or
8B-class model would likely fail it; 0: it would likely do fine), labelled by hand.

The set is meant to look like one team's traffic: long but easy summaries and translations, short
but hard maths and reasoning, code of both kinds. Run it to regenerate the file."""
import json

PASSAGE = ("The city council met on Tuesday to discuss the new bus routes. After two hours of debate, "
           "members agreed to add a late-night line serving the hospital and the university, to move the "
           "market stop one block north, and to review ticket prices in the spring. Several residents asked "
           "for more benches and shelters; the transport office promised a survey of every stop by June. ")
REPORT = ("Quarterly report. Revenue grew 12% to 4.1 million, driven by the subscription tier, while "
          "hardware sales fell 3%. Operating costs rose because of two new hires in support and a move to a "
          "larger office. The board approved a hiring freeze for the rest of the year, except for one "
          "security engineer. Customer churn dropped from 4% to 3.1%. ")

tasks = [
    # summarization: long inputs, mostly easy
    ("summarization", "Summarize these meeting notes in three bullet points:\n" + PASSAGE * 3, 0),
    ("summarization", "Give me a two-sentence summary of this report:\n" + REPORT * 3, 0),
    ("summarization", "TL;DR of the following, for a busy manager:\n" + REPORT * 2 + PASSAGE, 0),
    ("summarization", "Summarize the key decisions from these notes:\n" + PASSAGE * 4, 0),
    ("summarization", "Write a one-paragraph summary of this article for our newsletter:\n" + PASSAGE * 2 + REPORT, 0),
    ("summarization", "Condense this into a headline and a lede:\n" + REPORT * 4, 0),
    ("summarization", "Summarize, then list every number mentioned:\n" + REPORT * 2, 0),
    ("summarization", "Summarize this email thread in plain words:\n" + PASSAGE * 2, 0),
    ("summarization", "Summarize this contract clause and say whether the tenant or the landlord bears the risk of flood damage when the lease is silent on force majeure but the insurance rider excludes acts of God, citing the governing doctrine:\n" + PASSAGE, 1),
    ("summarization", "Summarize the following and point out every place where the figures contradict each other, explaining which one is most likely wrong and why:\n" + REPORT * 3, 1),
    ("summarization", "Summarize this paragraph for a child:\n" + PASSAGE, 0),
    ("summarization", "Summarize these notes as a table of decision, owner, deadline:\n" + PASSAGE * 3, 0),
    # translation: mostly easy
    ("translation", "Translate to French: The meeting is moved to Thursday at ten.", 0),
    ("translation", "Translate into Spanish: Please remember to bring your badge tomorrow.", 0),
    ("translation", "Translate this paragraph into German:\n" + PASSAGE, 0),
    ("translation", "Translate into Italian:\n" + REPORT, 0),
    ("translation", "Translate to Portuguese: Our office will be closed on Monday for the holiday.", 0),
    ("translation", "Translate into Japanese, keeping it polite: Thank you for your order, it ships tomorrow.", 0),
    ("translation", "Translate this sonnet into French verse, keeping the rhyme scheme ABAB CDCD EFEF GG and the iambic feel: Shall I compare thee to a summer's day? Thou art more lovely and more temperate.", 1),
    ("translation", "Translate into Dutch: The invoice is attached.", 0),
    ("translation", "Translate the pun 'I used to be a banker but I lost interest' into German so that it is still a pun, and explain the wordplay you chose.", 1),
    ("translation", "Translate to Spanish:\n" + PASSAGE * 2, 0),
    ("translation", "Translate into French: Where is the nearest train station?", 0),
    ("translation", "Render this legal sentence into Finnish with the correct case endings for each noun and explain each choice: The lessee shall indemnify the lessor against all claims arising from the lessee's use of the premises.", 1),
    # math: short, mostly hard
    ("math", "Prove that there are infinitely many primes of the form 4k+3.", 1),
    ("math", "Find all integer solutions of x^2 - 2y^2 = 1 and prove your list is complete.", 1),
    ("math", "What is 15% of 80?", 0),
    ("math", "Prove that the square root of 2 is irrational.", 1),
    ("math", "Compute the number of ways to tile a 2x10 board with 1x2 dominoes, with a proof of the recurrence.", 1),
    ("math", "Show that every group of order p^2 is abelian.", 1),
    ("math", "Evaluate the integral of x e^x from 0 to 1 exactly.", 1),
    ("math", "Add 237 and 486.", 0),
    ("math", "Let f be continuous on [0,1] with f(0)=f(1). Prove there is c with f(c)=f(c+1/2) when 0<=c<=1/2.", 1),
    ("math", "How many degrees are in the interior angles of a hexagon, summed?", 0),
    ("math", "Find the last three digits of 7^2024.", 1),
    ("math", "Solve for x: 3x + 5 = 20.", 0),
    # code: mixed
    ("code", "Write a Python function that returns the sum of a list of numbers.", 0),
    ("code", "Write a JavaScript function that reverses a string.", 0),
    ("code", "Implement a lock-free multi-producer single-consumer queue in C++ with correct memory orderings, and explain why each ordering is needed.", 1),
    ("code", "Write a SQL query that counts orders per customer.", 0),
    ("code", "Implement a B-tree with deletion in Rust, including rebalancing and merge, with tests.", 1),
    ("code", "```python\ndef add(a, b):\n    return a - b\n```\nFix the bug.", 0),
    ("code", "Design and implement a consistent-hashing ring with virtual nodes in Go that rebalances keys when nodes join, with a proof that at most K/N keys move.", 1),
    ("code", "Write a bash one-liner that counts lines in all .txt files.", 0),
    ("code", "Write a regex that matches ISO 8601 dates like 2024-05-01.", 0),
    ("code", "Write a compiler pass in LLVM that hoists loop-invariant loads, handling aliasing correctly with MemorySSA.", 1),
    ("code", "Convert this Python 2 print statement to Python 3: print 'hello'", 0),
    ("code", "Find the race in this Swift actor code where a reentrant await lets two callers both pass the balance check, and rewrite it so withdrawals can never overdraw:\n```swift\nactor Account {\n  var balance = 100\n  func withdraw(_ n: Int) async { if balance >= n { await log(n); balance -= n } }\n}\n```", 1),
    # reasoning: mostly hard
    ("reasoning", "Three boxes are labelled apples, oranges and mixed, and every label is wrong. You may draw one fruit from one box. How do you relabel all boxes? Explain the reasoning step by step.", 1),
    ("reasoning", "Is it warmer in summer or in winter in Paris?", 0),
    ("reasoning", "A knight always tells the truth and a knave always lies. A says 'B is a knave'. B says 'A and I are of different kinds'. What are A and B? Justify.", 1),
    ("reasoning", "If all bloops are razzies and all razzies are lazzies, are all bloops lazzies?", 0),
    ("reasoning", "Twelve coins, one counterfeit of unknown weight, a balance scale, three weighings: find the coin and whether it is heavier or lighter. Give the full decision tree.", 1),
    ("reasoning", "Which is heavier, a kilo of feathers or a kilo of steel?", 0),
    ("reasoning", "Plan a schedule for five meetings with these constraints: A before C, B not on Monday, D and E on the same day, C at least two days after B, only two meetings a day, Monday to Wednesday. Show that your schedule satisfies every constraint or prove none exists.", 1),
    ("reasoning", "Our startup's churn rose after we cut prices. Give three competing causal explanations and the cheapest experiment that would tell them apart.", 1),
    ("reasoning", "What day comes after Tuesday?", 0),
    ("reasoning", "A bat and a ball cost 1.10 in total; the bat costs 1.00 more than the ball. How much is the ball? Explain why the intuitive answer is wrong.", 1),
    ("reasoning", "Should I bring an umbrella if the forecast says 90% rain?", 0),
    ("reasoning", "Four people cross a bridge at night with one torch; they take 1, 2, 5 and 10 minutes; at most two cross at a time. What is the minimum total time? Prove it cannot be less.", 1),
    # chat: easy
    ("chat", "Hi! How are you today?", 0),
    ("chat", "Tell me a fun fact about octopuses.", 0),
    ("chat", "What's a good name for a grey cat?", 0),
    ("chat", "Can you recommend a board game for four players?", 0),
    ("chat", "Write a short birthday message for my colleague Sam.", 0),
    ("chat", "What should I cook tonight with rice, eggs and spinach?", 0),
    ("chat", "Give me three tips for a job interview.", 0),
    ("chat", "Thanks for your help earlier!", 0),
    ("chat", "Suggest a weekend hike near a lake.", 0),
    ("chat", "How do I politely decline a meeting invitation?", 0),
    ("chat", "Tell me a joke about programmers.", 0),
    ("chat", "What's the capital of Australia?", 0),
]

with open("labelled.jsonl", "w") as f:
    for i, (kind, prompt, label) in enumerate(tasks, 1):
        f.write(json.dumps({"id": f"t{i:03d}", "type": kind, "prompt": prompt, "needsStrong": label}) + "\n")
print(f"wrote {len(tasks)} tasks")
