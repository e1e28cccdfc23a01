// The built-in cue vocabulary. Re-tune with Tools/complexity-lab (see docs/complexity.md).

private func reason(_ w: Double, _ vote: TaskType? = nil, _ vw: Double = 1) -> Cue {
    Cue(reasoning: w, vote: vote, voteWeight: vote == nil ? 0 : vw)
}
private func creative(_ w: Double, _ vw: Double = 1.5) -> Cue {
    Cue(creativity: w, vote: .creative, voteWeight: vw)
}
private func easy(_ w: Double, _ vote: TaskType? = .chat, _ vw: Double = 1) -> Cue {
    Cue(ease: w, vote: vote, voteWeight: vote == nil ? 0 : vw)
}
private func vote(_ type: TaskType, _ vw: Double) -> Cue { Cue(vote: type, voteWeight: vw) }
private func constraint(_ w: Double = 0) -> Cue { Cue(reasoning: w, constraint: true) }
private func language(_ vw: Double = 1.5) -> Cue { Cue(language: true, vote: .code, voteWeight: vw) }
private func codeStart() -> Cue { Cue(codeStart: true) }

extension CueLexicon {
    static let standardEntries: [(String, Cue)] = [
        // MARK: general reasoning
        ("prove|proof|proofs|prove that|show that|derive|derivation|theorem|lemma|rigorous|rigorously|counterexample|undecidable|np hard|np complete|proof sketch", reason(0.7, .reasoning, 2)),
        ("step by step|explain your reasoning|show your work|show the computation|justify|deduce|logically|logic puzzle|puzzle|riddle|paradox|contradiction|explain carefully|explain why your", reason(0.5, .reasoning, 1.5)),
        ("reasoning|reason about|think through|consistent|inconsistent|consider whether|determine whether|prove or disprove", reason(0.3, .reasoning, 1)),
        ("why|explain why|how come|what if|suppose|assume|given that|now suppose|does the answer change", reason(0.2, .reasoning, 0.5)),
        ("edge case|edge cases|corner case|corner cases|race condition|race conditions|deadlock|deadlocks|thread safe|concurrency|concurrent|lock free|memory leak|segfault|segmentation fault|undefined behavior|data race", reason(0.6, .code, 1.5)),
        ("time complexity|space complexity|big o|amortized|invariant|invariants|o n|o log n|o n log n|o n 2|o 1", reason(0.5, .code, 1)),
        ("design the architecture|system design|architecture|distributed|scalability|scalable|fault tolerant|fault tolerance|consistency|trade off|trade offs|tradeoff|tradeoffs|zero downtime|failure modes|high availability|data centers|microservices", reason(0.55, .analysis, 1)),
        ("algorithm|algorithms|optimize|optimise|optimization|efficient|efficiently|recursion|recursive|dynamic programming|data structure|memoization|binary tree|linked list|graph traversal|refactor|parses|parser|parse", reason(0.35, .code, 1.2)),
        ("implement|implementation|write a function|write a program|write a script|write code|function that|class that|write a query", reason(0.3, .code, 2)),
        ("analyze|analyse|analysis|evaluate|assess|critique|critically|compare|contrast|implications|nuanced|weigh|strongest arguments|evaluate which", reason(0.3, .analysis, 1.5)),
        ("pros and cons|advantages and disadvantages|review|examine|trends|identify|investigate|root cause", reason(0.1, .analysis, 1)),
        ("which of the following|the following", reason(0.05)),
        ("most likely|most appropriate|best explains|best describes|best states|best characterized|most directly|primarily", reason(0.2, .reasoning, 0.3)),
        ("must be true|must be|necessarily|sufficient|necessary|guaranteed|always|plausible|valid reason|immediate consequence", reason(0.3, .reasoning, 0.5)),
        ("all of the following|each of the following|none of the above|all of the above|i and ii|ii and iii|i ii and iii|only i|only ii", reason(0.35, .reasoning, 0.5)),
        // MARK: mathematics
        ("solve|solution|solutions|equation|equations|system of equations|integral|integrate|integration by parts|derivative|differentiate|limit|limits|matrix|matrices|eigenvalue|eigenvalues|eigenvector|vector space|polynomial|polynomials|real roots|roots|modulo|mod|remainder|divisible|divisor|prime|primes|factorial|logarithm|exponential|converge|converges|inequality|quadratic|extraneous|determinant|infinitely many|irrational|rational|integers|integer", reason(0.45, .math, 1.5)),
        ("probability|expected value|variance|standard deviation|combinatorics|permutations|combinations|without replacement|independent|conditional|bayes|posterior|prior|sensitivity|specificity|prevalence|distribution|binomial|normal distribution", reason(0.45, .math, 1.5)),
        ("confidence interval|p value|hypothesis|null hypothesis|significance|statistically|regression|correlation|estimator|unbiased|sample mean|type i error|type ii error|alpha|sampling", reason(0.45, .analysis, 0.5)),
        ("sequence|series|arithmetic sequence|geometric sequence|consecutive|sum of|terms|nth term|th term", reason(0.3, .math, 1)),
        ("triangle|area|volume|perimeter|radius|circumference|coordinates|vertices|angle|diagonal|rectangle|square meters|square feet|cube|sphere|cylinder", reason(0.2, .math, 1)),
        ("calculate|compute|how many|how much|how far|how long|what percentage|what fraction|find the value|find all|find the|divided by|plus|minus|multiplied by|squared|square root|percent of|of what number", reason(0.1, .math, 1.5)),
        // MARK: specialised subjects (graduate and professional exam vocabulary)
        ("group|subgroup|subgroups|ring|rings|field|fields|homomorphism|homomorphisms|isomorphic|isomorphism|cyclic|abelian|non abelian|coset|cosets|kernel|normal subgroup|order of|irreducible|field extension|symmetric group|unity|characteristic|integral domain|linear transformation|basis|dimension|span|injective|surjective|bijective", reason(0.3, .math, 0.8)),
        ("predicate logic|predicate|validity|valid|invalid|premise|premises|conclusion|entail|entails|tautology|modus ponens|modus tollens|truth table|truth tables|logically equivalent|syllogism|fallacy|formal logic|translation into|counterexample", reason(0.35, .reasoning, 1)),
        ("plaintiff|defendant|statute|statutes|negligence|negligent|hearsay|admissible|inadmissible|tort|torts|liability|liable|breach|conveyance|conveyed|conveys|testator|devise|bequest|perpetuities|easement|jurisdiction|constitutional|unconstitutional|due process|equal protection|commerce clause|interstate commerce|miranda|suppress|motion to|appellate|precedent|indemnify|indemnifying|indemnified|indemnification|consequential damages|damages|parol evidence|statute of frauds|respondeat superior|mens rea|felony|prosecution|prosecutor|adeemed|ademption|remainder to|life estate|fee simple|enforceable|consideration|gross negligence|hold harmless|contract law|common law|objects|objection|at trial", reason(0.3, .analysis, 0.6)),
        ("patient|patients|presents|presents with|year old|diagnosis|laboratory|serum|antibodies|antibody|syndrome|gestation|weeks gestation|mm hg|mg|dose|dosage|contraindicated|management|next step|pathogenesis|etiology|biopsy|lesion|cranial|nerve|nerves|receptor|receptors|inhibitor|enzyme|deficiency|immunodeficiency|mutation|mutations|carcinoma|tumor|radiograph|hyponatremia|osmolality|proteinuria|seizure|inr|warfarin|tsh|encapsulated|immunoglobulins|hemianopia|optic tract|parasympathetic|fibers|visual field|gene encoding|point mutations|hemagglutinin|neuraminidase|antigenic", reason(0.3, .analysis, 0.5)),
        ("allele|alleles|heterozygous|homozygous|genotype|phenotype|hardy weinberg|dihybrid|recessive|dominant|unlinked|offspring|carriers", reason(0.35, .reasoning, 0.5)),
        ("velocity|acceleration|friction|frictionless|incline|coefficient|momentum|torque|kinetic|potential energy|electric field|magnetic field|charge|capacitor|capacitors|dielectric|resistance|internal resistance|resistor|resistors|terminal voltage|circuit|quantum|wave function|square well|ground state|adiabatic|reversible|entropy|thermodynamics|pendulum|period|orbit|escape velocity|gravitational|wavelength|photon|relativity|parallax|absolute magnitude|apparent magnitude|conservation of energy|ideal gas|laplace transform|fourier|series and parallel|in parallel|in series", reason(0.35, .reasoning, 0.5)),
        ("moles|mole|molar|stoichiometry|dipole|dipole moment|rate constant|first order|equilibrium constant|oxidation|electrochemical|titration|enthalpy|half life|isomer|orbital|hybridization|deposit|electrons", reason(0.35, .reasoning, 0.5)),
        ("marginal|elasticity|inelastic|deadweight loss|monopolist|monopoly|oligopoly|multiplier|propensity|propensity to consume|aggregate demand|equilibrium gdp|fiscal|depreciation|double declining|salvage value|useful life|gaap|ifrs|liabilities|retrospective|retrospective application|accrual|current ratio|quick ratio|coupon|face value|market yield|present value|discount rate|cost of capital|weighted average cost|modigliani|heteroscedasticity|heteroskedasticity|autocorrelation|cointegrated|cointegration|stationary|ols|fixed effects|random effects|hausman|instrumental variable|endogeneity|panel data|error correction|residual|residuals|unconditional mean", reason(0.35, .analysis, 0.5)),
        ("vc dimension|overfit|overfitting|gradient|neural network|hidden layer|sigmoid|classifier|decision tree|depth limit|training error|test error|binary heap|heap|hash table|pipelined|pipeline stages|clock cycle|hazards|serializable|schedule|isolation|three way handshake|sequence numbers|cipher|cbc|block cipher|ciphertext|plaintext|encryption|cryptographic|halting problem|turing machine|rice s theorem|reduction|compiler|grammar|np|manacher|patience sorting|subsequence|substring", reason(0.35, .reasoning, 0.5)),
        ("categorical imperative|utilitarian|utilitarianism|kantian|kant|hume|causal necessity|constant conjunction|epistemology|metaphysics|ontological|deontological|deontology|consequentialism|veil of ignorance|virtue ethics|permissible|impermissible|maxims|formula of humanity|security dilemma|nullification|doctrine of", reason(0.35, .reasoning, 0.5)),
        ("ethical|ethics|ethically|moral dilemma|moral|morality|justice|fairness", reason(0.2, .analysis, 0.5)),
        ("as old as|years ago|years older|years younger|how old|in how many years|sum of their ages|original number|the original|originally|start with|started with|did she start|did he start|the result is|is halved|is doubled|is tripled|working together|work together|together|alone|at the same time|how long will it take|how long does it take|ratio|in the ratio|heads and|legs in total|consecutive|remainder|rounded down|rounded up|each following|the week before|the hour before|the previous|of what was left|of what remains|of the remaining|of the rest", reason(0.25, .math, 0.5)),
        ("taller|shorter|taller than|shorter than|older than|younger than|heavier than|lighter than|faster than|slower than|second tallest|second place|position|liar|liars|truth teller|always lies|always tells the truth|labelled|wrong label", reason(0.3, .reasoning, 1)),
        ("morally wrong|moral standards|scenario 1|scenario 2|main character", reason(0.55, .reasoning, 1)),
        ("statement 1|statement 2", reason(0.6, .reasoning, 1)),
        // MARK: negations that flip a question (count fully when written in capitals)
        ("except|not|least|false|incorrect|never|cannot", Cue(negation: true)),
        // MARK: word-problem quantities and operations
        ("one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|hundred|thousand|dozen|dozens|half|halves|third|thirds|quarter|quarters|fifth|fifths|twice|double|doubles|triple|tripled|thrice", Cue(quantity: true)),
        ("each|per|every|remaining|remainder|rest|left|left over|leftover|total|altogether|combined|together|more than|less than|fewer than|more|fewer|times as many|as many|as much|percent|percentage|average|ratio|rate|discount|profit|interest|compounded|tax|tip|split|share|equally|refund|refunded|cost|costs|pays|paid|earns|saves|spends|sells|sold|buys|bought|after|then|before|until|first|second|next|instead|originally|original|price|change|fee|fees|revenue|salary|per hour|an hour|a day|a week|a month|a year|km h|mph|miles|meters|kilometers|liters|gallons|hours|minutes|weeks|months|years|days", Cue(operation: true)),
        // MARK: instruction constraints
        ("must|exactly|at least|at most|no more than|under|without|without using|do not|don t|only|ensure|keep|keeping|include|including|handle|handling|avoid|stay|while|maximum|minimum|minimize|maximize|sorted|in order of|return them|as json|json|as a table|table|bullet|bullets|words|sentences|lines|rhyme scheme|iambic|pentameter|in the style of|tone|in character|persona|whole conversation|each one|for each|both sides|now|also|and then|rewrite it|modify it|recompute|adapt", constraint()),
        // MARK: easy, social, everyday
        ("hi|hello|hey|thanks|thank you|how are you|good morning|fun fact|joke|jokes|what s a good|recommend|recommendation|suggest|suggestions|tips|favorite|favourite|quick|briefly|basic|beginner|kid|kids|ten year old|year old s|for a child|everyday|cozy|birthday|dinner|weekend|movie|friendly|short message|thank you note", easy(0.3)),
        ("what is the capital|capital of|who wrote|who was|who is|stand for|known as|how many continents|fun facts|trivia", easy(0.25, nil)),
        // MARK: creativity
        ("poem|poems|poetry|haiku|limerick|sonnet|verse|verses|lyrics|song|rhyme|rhymes|stanza", creative(0.8, 2.5)),
        ("story|short story|stories|fiction|write a novel|tale|fairy tale|scene|character|characters|narrative|plot|twist|noir|dialogue|screenplay|monologue|fable|myth", creative(0.6, 1.5)),
        ("creative|creatively|imagine|imaginative|pretend|roleplay|role play|play the role|in character|persona|act as|you are a|brainstorm|slogan|tagline|metaphor|similes|simile|whimsical|fantasy|vivid|sensory|invent|toast|speech|motivational", creative(0.5, 1.2)),
        // MARK: task-type cues
        ("code|coding|program|programming|function|functions|method|class|struct|enum|api|endpoint|query|sql query|regex|regular expression|compile|compiler|library|framework|script|one liner|snippet|component|repository|git|commit|command|cli|terminal", vote(.code, 1.2)),
        ("debug|debugging|bug|bugs|fix|fix it|crash|crashes|crashed|error|errors|exception|stack trace|traceback|fails|failing|broken|not working|wrong output|prints|infinite loop|re renders|hangs", vote(.debugging, 2)),
        ("test|tests|unit test|unit tests|pytest|xctest|junit|test case|test cases|test suite|coverage|integration test|integration tests|mock|mocks|assertion|assertions|tdd", vote(.testing, 2)),
        ("document|documentation|docstring|docstrings|readme|api docs|technical writing|design document|user guide|changelog|release notes|javadoc|comments", vote(.documentation, 2)),
        ("translate|translation|translating|translated|into french|into spanish|into german|into english|into japanese|into chinese", vote(.translation, 3)),
        ("summarize|summarise|summary|summarizing|tl dr|tldr|condense|key points|in one sentence|abstract of|recap", vote(.summarization, 2.5)),
        ("write|rewrite|email|letter|essay|paragraph|article|blog|blog post|cover letter|description|message|note|op ed|report|proposal|headline|caption|bio|announcement", vote(.text, 1)),
        ("extract|list all|list each|classify|categorize|parse the|from the following|from this text|from the text", vote(.analysis, 1.5)),
        ("explain|describe|what causes|difference between|differences between|how does|how do|discuss", vote(.text, 0.6)),
        ("image|images|picture|pictures|photo|photos|photograph|draw|drawing|illustration|diagram|screenshot|logo|ocr", vote(.image, 1.5)),
        ("audio|transcribe|transcription|podcast|recording|voice memo|speech to text|mp3|wav", vote(.audio, 1.5)),
        ("video|videos|clip|footage|frames|youtube|mp4", vote(.video, 1.5)),
        // MARK: languages and platforms
        ("python|java|javascript|typescript|rust|golang|go code|in go|kotlin|in swift|swift code|swiftui|ruby code|in ruby|ruby on rails|php|haskell|scala|elixir|erlang|clojure|perl|lua|in dart|flutter|in julia|matlab|fortran|cobol|assembly language|c code|in c|cpp|c sharp|objective c|sql|postgresql|postgres|mysql|sqlite|bash|shell script|powershell|html|css|react component|in react|react hooks|usestate|useeffect|jsx|tsx|vue|in angular|django|in flask|node js|nodejs|spring boot|kubernetes|docker|terraform|graphql|rest api|numpy|pandas|pytorch|tensorflow", language()),
        // MARK: first words of code lines
        ("def|func|fn|let|var|const|return|import|include|package|public|private|static|void|int|for|while|if|else|elif|class|struct|select|from|where|insert|update|delete|print|println|printf|console|std|auto|async|await|try|catch|except|raise|throw|switch|case|break|continue|using|namespace|echo|fi|done|end|begin|lambda|yield|defer|go", codeStart()),
    ]
}
