"""Text pools of :mod:`sftlib.generate`: ticket parts, task wordings, chat turns, question wordings."""

# The four facts of a country that the instructions and the chats ask about.
ATTRS = ("capital", "continent", "currency", "language")

# --- triage: ticket pools --------------------------------------------------------------------------
PRODUCTS = ["Nimbus Drive", "PayFlow", "ShopDesk", "MailBridge", "TeamBoard", "CloudLedger",
            "Trackly", "DocuVault", "StreamDesk", "BookWise"]
# (problem sentence, reason sentence); both may name {product}.
URGENT = [
    ("{product} has been down for all of our users since 9 am.",
     "A full outage of {product} is stopping every user from working."),
    ("None of our customers can pay through {product}; every card payment fails.",
     "Payment failures in {product} are costing the customer sales right now."),
    ("After last night's update, {product} deleted all of our project files.",
     "Data has been lost and must be recovered before it is gone for good."),
    ("Someone logged into our {product} admin account from an unknown place and changed the "
     "passwords.", "A possible security breach needs immediate action."),
    ("I am locked out of {product} and our quarterly report is due tomorrow morning.",
     "The customer is locked out right before a hard deadline."),
    ("{product} is charging our customers twice for every order.",
     "Customers are being overcharged on every order until this is fixed."),
    ("The {product} dashboard is showing us other companies' customer data.",
     "Private customer data is being exposed to the wrong people."),
    ("Every request to {product} returns an error, so our online shop is offline.",
     "The customer's business is offline while {product} fails."),
    ("Our whole team cannot sign in to {product}, and we launch in two hours.",
     "The whole team is blocked just before a launch."),
    ("Since this morning {product} has been sending our invoices to the wrong customers.",
     "Confidential invoices are going to the wrong people right now."),
]
NOT_URGENT = [
    ("It would be great if {product} had a dark mode.",
     "This is a feature request that does not block any work."),
    ('There is a small typo on the {product} settings page: it says "recieve".',
     "A cosmetic typo does not stop anyone from working."),
    ("I have a question about next month's invoice for {product}.",
     "A billing question about next month can wait for a normal reply."),
    ("How do I export a report from {product} as a spreadsheet?",
     "This is a how-to question and nothing is broken."),
    ("I just wanted to say that the new {product} design looks great.",
     "This is friendly feedback that needs no action."),
    ("The icons in {product} look a little blurry on my second monitor.",
     "A small display issue does not block any work."),
    ("Could you add more colour themes to {product} in a future release?",
     "This is a feature request for a future release."),
    ("I would like to change the email address on our {product} account sometime this month.",
     "A routine account change can be done in normal time."),
    ("The {product} help page still links to last year's user guide.",
     "An outdated help link is a minor documentation issue."),
    ("I forgot my {product} password, but I will not need the account until next month.",
     "The customer does not need access until next month."),
]
OPENINGS = ["Hello.", "Hi!", "Hi team!", "Hi there.", "Good morning!", "Good afternoon.", "Hey!", ""]
DETAILS = ["I'm {name} from {company}.", "This is {name}, {role} at {company}.",
           "We are a team of {size} people using {product}.", "Our account number is {account}.",
           "I'm writing on behalf of {company}.", ""]
ROLES = ["office manager", "IT lead", "founder", "accountant", "developer", "support lead"]
# Tones mislead on purpose: calm urgent tickets, pushy or "urgent"-mentioning routine ones.
URGENT_TONES = ["This is urgent.", "Please help as soon as possible.", "We need this fixed today.",
                "Sorry to bother you, but please take a look.", "I don't want to make a fuss.",
                "Whenever you get this, please have a look.", "Marking this as urgent.",
                "I rarely call anything urgent, but this is."]
NOT_URGENT_TONES = ["No rush on this.", "This is not urgent, but I thought you should know.",
                    "Not urgent at all, just letting you know.", "Please reply when you can.",
                    "I know you handle urgent cases first, so take your time.", "Low priority.",
                    "Could you look at this today?"]
NOISE = ["We have used {product} for {years} years.", "My colleague asked me to write to you.",
         "Last year you fixed an urgent problem for us very quickly.",
         "I already tried restarting my computer.", "Sorry if this is a duplicate ticket."]
CLOSINGS = ["Thanks,", "Thank you.", "Best regards,", "Kind regards,", "Cheers,", "Many thanks!", ""]
TRIAGE_INSTRUCTION = ("Classify this support ticket as urgent or not urgent, and give a "
                      "one-sentence reason.")

# --- instructions: wordings ------------------------------------------------------------------------
COUNTRY_QUESTIONS = {
    "capital": ["What is the capital of {c}?", "Name the capital city of {c}.",
                "Which city is the capital of {c}?"],
    "continent": ["Which continent is {c} in?", "On which continent is {c}?",
                  "Name the continent where {c} lies."],
    "currency": ["What is the currency of {c}?", "Which currency is used in {c}?",
                 "What money do people use in {c}?"],
    "language": ["What is the official language of {c}?", "Which language is spoken in {c}?",
                 "Name the official language of {c}."],
}
COUNTRY_INSTRUCTIONS = {a: [f"Give the {a} of the country below.", f"What is the {a} of this "
                            "country?", f"Name the {a} of the given country."] for a in ATTRS}
COUNTRY_INSTRUCTIONS["language"] = ["Give the official language of the country below.",
                                    "What language is official in this country?",
                                    "Name the official language of the given country."]
COUNTRY_ANSWERS = {"capital": "The capital of {c} is {capital}.", "continent": "{C} is in {continent}.",
                   "currency": "The currency of {c} is the {currency}.",
                   "language": "The official language of {c} is {language}."}
WORDS = ("apple river stone cloud garden window yellow quiet bread music lamp forest paper orange "
         "tiger silver winter candle bridge ocean pencil mountain coffee rabbit letter summer violin "
         "market island doctor mirror basket planet honey engine shadow pepper castle ribbon jacket "
         "meadow falcon lemon harbor ticket").split()
TEXT_OPS = {  # name -> wordings; the answer is computed in _text_task
    "reverse": ["Reverse the order of the words.", "Write these words in reverse order.",
                "List the words below backwards, last word first."],
    "sort": ["Sort these words alphabetically.", "Put the words in alphabetical order.",
             "Arrange the words below from A to Z."],
    "count": ["Count the words in the text.", "How many words are there below?",
              "Give the number of words in this text."],
    "upper": ["Convert the text to uppercase.", "Rewrite the text in capital letters.",
              "Write this in all caps."],
    "first": ["What is the first word?", "Give the first word of the text.",
              "Which word comes first below?"],
    "last": ["What is the last word?", "Give the last word of the text.",
             "Which word comes last below?"],
    "larger": ["Which number is larger: {a} or {b}?", "Which is bigger, {a} or {b}?",
               "Pick the larger of the two numbers."],
    "add": ["What is {a} plus {b}?", "Compute {a} + {b}.", "Add the two numbers."],
    "continent": ["Which of these countries are in {k}?", "List the countries from {k} below.",
                  "From the list, name only the countries in {k}."],
}

# --- chat: turns -----------------------------------------------------------------------------------
SYSTEMS = ["You are a helpful assistant.", "You are a friendly geography assistant.",
           "You answer questions about countries briefly and correctly.",
           "You are a concise assistant. Answer in one short sentence."]
FOLLOW_UPS = {
    "capital": ["And what is its capital?", "What's the capital city there?",
                "Which city is its capital?"],
    "continent": ["Which continent is it in?", "And which continent is that on?",
                  "What continent is it part of?"],
    "currency": ["And what currency do they use there?", "What do people pay with there?",
                 "Which currency is used there?"],
    "language": ["What language do they speak there?", "And the official language?",
                 "Which language is official there?"],
}
CHAT_ANSWERS = {
    "capital": ["The capital of {c} is {capital}.", "{Capital} is the capital of {c}."],
    "continent": ["{C} is in {continent}.", "{C} is a country in {continent}."],
    "currency": ["The currency of {c} is the {currency}.", "People in {c} pay with the {currency}."],
    "language": ["The official language of {c} is {language}.",
                 "{language} is the official language of {c}."],
}
SWITCHES = ["What about {c}?", "And {c}?", "How about {c}?"]
GREETINGS = [("Hi!", "Hello! How can I help you?"), ("Hello there.", "Hi! What would you like to know?"),
             ("Good morning!", "Good morning! What can I do for you?")]
THANKS = [("Thanks!", "You're welcome."), ("Thank you, that helps.", "Glad I could help."),
          ("Great, thanks a lot.", "You're welcome! Happy to help.")]

# --- qa: question wordings -------------------------------------------------------------------------
QA_QUESTIONS = {
    "birth_date": ["When was {n} born?", "What is the birth date of {n}?", "On what date was {n} born?"],
    "birth_city": ["Where was {n} born?", "In which city was {n} born?",
                   "What is the birthplace of {n}?"],
    "university": ["Where did {n} study?", "Which university did {n} attend?",
                   "At which university did {n} study?"],
    "major": ["What did {n} major in?", "What was the major of {n}?", "Which field did {n} study?"],
    "employer": ["Who does {n} work for?", "Which company employs {n}?", "What is the employer of {n}?"],
    "work_city": ["Where does {n} work?", "In which city does {n} work?",
                  "What city is the office of {n} in?"],
}
