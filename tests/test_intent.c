/* test_intent.c - the shipped en-us grammar on fixed sentences: each
 * intent, negation, precedence, the rating slot in many phrasings and
 * numbers that are no rating. None of these sentences is in the dev set. */
#include "earshot.h"
#include "grammar.h"
#include "intent.h"
#include "intent_model.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

static earshot_intents *g;

static int setup(void **state)
{
    if (earshot_intents_open(&g, "grammars/en-us") != EARSHOT_OK) {
        fprintf(stderr, "%s\n", earshot_intents_errmsg(g));
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    earshot_intents_close(g);
    return 0;
}

typedef struct expect {
    const char *text, *intent;
} expect;

static int check_intents(const expect *cases, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        earshot_analysis a;
        assert_int_equal(earshot_intents_analyze(g, cases[i].text, &a), EARSHOT_OK);
        if (strcmp(a.intent, cases[i].intent)) {
            printf("  \"%s\": %s, want %s\n", cases[i].text, a.intent, cases[i].intent);
            bad++;
        }
        assert_true(a.confidence >= 0.0 && a.confidence <= 1.0);
    }
    return bad;
}

static void test_each_intent(void **state)
{
    static const expect cases[] = {
        {"please erase everything you recorded about me", "forget_me"},
        {"i want my details removed from your records", "forget_me"},
        {"no thank you i don't want to be recorded", "consent_no"},
        {"please don't record this conversation", "consent_no"},
        {"yes that's fine you can record me", "consent_yes"},
        {"go ahead and record", "consent_yes"},
        {"i'd like to cancel my gym membership", "cancel"},
        {"i'm moving my account to another bank next week", "cancel"},
        {"i'd give it a seven out of ten", "nps"},
        {"a solid eight from me", "nps"},
        {"can i speak to a manager please", "help_request"},
        {"i need some help with this machine", "help_request"},
        {"my order arrived broken and nobody answered my emails", "complaint"},
        {"the toilets were absolutely disgusting", "complaint"},
        {"you should open a second checkout at lunchtime", "suggestion"},
        {"it would be useful to have a water fountain here", "suggestion"},
        {"what time does the pharmacy close today", "question"},
        {"do you sell gift cards", "question"},
        {"the staff were brilliant thank you", "praise"},
        {"lovely shop really friendly people", "praise"},
        {"hang on i need to find my keys", "other"},
        {"it's raining again outside", "other"},
    };
    assert_int_equal(check_intents(cases, sizeof cases / sizeof *cases), 0);
}

/* When several intents apply, the first in the precedence list wins. */
static void test_precedence(void **state)
{
    static const expect cases[] = {
        {"yes you can record me but delete it when we're done", "forget_me"},
        {"no recording please and delete what you have", "forget_me"},
        {"no don't record me i just want to cancel my contract", "consent_no"},
        {"yes record me i want to cancel my subscription", "consent_yes"},
        {"two out of ten and i'm cancelling my membership", "cancel"},
        {"eight out of ten but can someone help me with my bill", "nps"},
        {"the machine ate my card can someone help me", "help_request"},
        {"the queue is terrible you should hire more staff", "complaint"},
        {"great shop but you should stock more vegan food", "suggestion"},
        {"the staff are lovely what time do you open tomorrow", "question"},
    };
    assert_int_equal(check_intents(cases, sizeof cases / sizeof *cases), 0);
}

static void test_sentiment_and_negation(void **state)
{
    static const struct {
        const char *text, *sentiment;
    } cases[] = {
        {"not bad at all", "positive"},
        {"the food was not good", "negative"},
        {"the assistant wasn't helpful", "negative"},
        {"no problems whatsoever everything went smoothly", "positive"},
        {"i can't fault the service", "positive"},
        {"the coffee was lovely but the wait was far too long", "negative"},
        {"really really slow service", "negative"},
        {"what time do you open", "neutral"},
        {"the room was spotless and the staff were lovely", "positive"},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        earshot_analysis a;
        earshot_intents_analyze(g, cases[i].text, &a);
        assert_true(a.sentiment_score >= -1.0 && a.sentiment_score <= 1.0);
        if (strcmp(a.sentiment, cases[i].sentiment)) {
            printf("  \"%s\": %s (%.2f), want %s\n", cases[i].text, a.sentiment,
                   a.sentiment_score, cases[i].sentiment);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
    earshot_analysis a;
    earshot_intents_analyze(g, "not bad at all", &a);
    assert_string_equal(a.intent, "praise");
}

/* Every rating 0-10, in several phrasings each. */
static void test_scores_zero_to_ten(void **state)
{
    static const char *const words[] = {"zero", "one", "two",   "three", "four", "five",
                                        "six",  "seven", "eight", "nine", "ten"};
    static const char *const forms[] = {
        "%s out of ten",
        "i'd give you a %s",
        "probably a %s",
        "on a scale of one to ten i'd say %s",
        "%s i suppose",
        "i'd rate it a %s out of ten",
    };
    int bad = 0;
    for (int v = 0; v <= 10; v++) {
        for (size_t f = 0; f < sizeof forms / sizeof *forms; f++) {
            char text[128];
            snprintf(text, sizeof text, forms[f], words[v]);
            /* "a eight" is not English */
            if (v == 8 && strstr(forms[f], "a %s")) {
                char fixed[128];
                snprintf(fixed, sizeof fixed, "%s", text);
                char *p = strstr(fixed, "a eight");
                memmove(p + 1, p, strlen(p) + 1);
                p[1] = 'n';
                snprintf(text, sizeof text, "%s", fixed);
            }
            earshot_analysis a;
            earshot_intents_analyze(g, text, &a);
            if (strcmp(a.intent, "nps") || a.score != v) {
                printf("  \"%s\": %s score %d, want nps %d\n", text, a.intent, a.score, v);
                bad++;
            }
        }
    }
    static const struct {
        const char *text;
        int score;
    } more[] = {
        {"zero honestly", 0},
        {"a solid eight", 8},
        {"nine out of ten", 9},
        {"on a scale of one to ten i'd say six", 6},
        {"ten out of ten would recommend", 10},
        {"not very likely maybe a three", 3},
    };
    for (size_t i = 0; i < sizeof more / sizeof *more; i++) {
        earshot_analysis a;
        earshot_intents_analyze(g, more[i].text, &a);
        if (strcmp(a.intent, "nps") || a.score != more[i].score) {
            printf("  \"%s\": %s score %d, want nps %d\n", more[i].text, a.intent, a.score,
                   more[i].score);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

/* Numbers that are times, prices, counts or places carry no rating. */
static void test_numbers_that_are_not_ratings(void **state)
{
    static const char *const texts[] = {
        "i waited twenty minutes for a coffee",
        "two coffees please",
        "ten pounds for a sandwich is too much",
        "is kiosk four working",
        "does the number nine bus stop here",
        "we've been here three hours",
        "you close at six on sundays",
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        earshot_analysis a;
        earshot_intents_analyze(g, texts[i], &a);
        if (!strcmp(a.intent, "nps") || a.score != -1) {
            printf("  \"%s\": %s score %d, want no rating\n", texts[i], a.intent, a.score);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

static void test_topics(void **state)
{
    earshot_analysis a;
    earshot_intents_analyze(g, "the card machine charged me twice", &a);
    assert_int_equal(a.n_topics, 1);
    assert_string_equal(a.topics[0], "payment");
    earshot_intents_analyze(g, "my parcel is late and the app won't let me track it", &a);
    int delivery = 0, app = 0;
    for (size_t i = 0; i < a.n_topics; i++) {
        delivery |= !strcmp(a.topics[i], "delivery");
        app |= !strcmp(a.topics[i], "app");
    }
    assert_true(delivery && app);
    earshot_intents_analyze(g, "hello", &a);
    assert_int_equal(a.n_topics, 0);
}

/* Text in any case and with punctuation is read the same; empty text is
 * "other"; the handle stays usable. */
static void test_robust_input(void **state)
{
    earshot_analysis a;
    earshot_intents_analyze(g, "I'd like to CANCEL my contract, please!", &a);
    assert_string_equal(a.intent, "cancel");
    earshot_intents_analyze(g, "", &a);
    assert_string_equal(a.intent, "other");
    assert_int_equal(a.n_topics, 0);
    char long_text[8192];
    long_text[0] = '\0';
    for (int i = 0; i < 400; i++)
        strcat(long_text, "very ");
    earshot_intents_analyze(g, long_text, &a);
    assert_string_equal(a.intent, "other");
    assert_int_equal(earshot_intents_analyze(NULL, "x", &a), EARSHOT_MISUSE);
    assert_int_equal(earshot_intents_analyze(g, NULL, &a), EARSHOT_MISUSE);
}

/* Reads each case against question q, then puts the matcher back to no
 * question so the other tests read text on its own words. */
static int check_in_context(earshot_question q, const expect *cases, size_t n,
                            earshot_answer answer)
{
    assert_int_equal(earshot_intents_set_question(g, q), EARSHOT_OK);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        earshot_analysis a;
        assert_int_equal(earshot_intents_analyze(g, cases[i].text, &a), EARSHOT_OK);
        assert_int_equal(a.question, q);
        if (strcmp(a.intent, cases[i].intent) || (answer && a.answer != answer)) {
            printf("  \"%s\": %s (answer %d), want %s\n", cases[i].text, a.intent, a.answer,
                   cases[i].intent);
            bad++;
        }
        assert_true(a.confidence >= 0.0 && a.confidence <= 1.0);
    }
    assert_int_equal(earshot_intents_set_question(g, EARSHOT_ASK_NONE), EARSHOT_OK);
    return bad;
}

/* After "May we keep what you say?": 24 ways to say yes and 24 to say no,
 * none of them in the dev set; out of context most are "other". */
static void test_consent_answers_in_context(void **state)
{
    static const expect yes[] = {
        {"sure", "consent_yes"},           {"go ahead", "consent_yes"},
        {"fine by me", "consent_yes"},     {"absolutely yes", "consent_yes"},
        {"okay go on", "consent_yes"},     {"yeah why not", "consent_yes"},
        {"of course", "consent_yes"},      {"no problem", "consent_yes"},
        {"no worries", "consent_yes"},     {"that's fine", "consent_yes"},
        {"yep", "consent_yes"},            {"go for it", "consent_yes"},
        {"i don't mind", "consent_yes"},   {"sounds good", "consent_yes"},
        {"um okay then", "consent_yes"},   {"yes please", "consent_yes"},
        {"certainly", "consent_yes"},      {"alright then", "consent_yes"},
        {"works for me", "consent_yes"},   {"happy to", "consent_yes"},
        {"i suppose so", "consent_yes"},   {"oh go on then", "consent_yes"},
        {"yeah sure thing", "consent_yes"}, {"well okay", "consent_yes"},
    };
    static const expect no[] = {
        {"i'd rather not", "consent_no"},      {"no thanks", "consent_no"},
        {"nope", "consent_no"},                {"nah", "consent_no"},
        {"not really", "consent_no"},          {"not today thanks", "consent_no"},
        {"i'd prefer not", "consent_no"},      {"please don't", "consent_no"},
        {"absolutely not", "consent_no"},      {"no way", "consent_no"},
        {"not a chance", "consent_no"},        {"i don't think so", "consent_no"},
        {"i'll pass", "consent_no"},           {"not for me thanks", "consent_no"},
        {"no no", "consent_no"},               {"um no", "consent_no"},
        {"certainly not", "consent_no"},       {"i'm good thanks", "consent_no"},
        {"rather not", "consent_no"},          {"no thank you", "consent_no"},
        {"nah thanks mate", "consent_no"},     {"well no", "consent_no"},
        {"of course not", "consent_no"},       {"not at the moment", "consent_no"},
    };
    assert_int_equal(check_in_context(EARSHOT_ASK_CONSENT, yes, sizeof yes / sizeof *yes,
                                      EARSHOT_ANSWER_YES), 0);
    assert_int_equal(check_in_context(EARSHOT_ASK_CONSENT, no, sizeof no / sizeof *no,
                                      EARSHOT_ANSWER_NO), 0);
    /* What ignores the question keeps its own meaning; "not sure" is no
     * answer; forget_me is never overridden. */
    static const expect rest[] = {
        {"where are the toilets", "question"},
        {"not sure", "other"},
        {"there's nothing wrong with the coffee", "praise"},
        {"no and delete whatever you have already recorded", "forget_me"},
        {"sure but please don't record my voice", "consent_no"},
    };
    assert_int_equal(check_in_context(EARSHOT_ASK_CONSENT, rest, sizeof rest / sizeof *rest, 0),
                     0);
    /* Out of context, a bare "fine by me" says nothing of consent. */
    earshot_analysis a;
    assert_int_equal(earshot_intents_analyze(g, "fine by me", &a), EARSHOT_OK);
    assert_string_equal(a.intent, "other");
    assert_int_equal(a.question, EARSHOT_ASK_NONE);
    assert_int_equal(a.answer, EARSHOT_ANSWER_NONE);
    assert_int_equal(earshot_intents_set_question(g, (earshot_question)99), EARSHOT_MISUSE);
    assert_int_equal(earshot_intents_set_question(NULL, EARSHOT_ASK_NONE), EARSHOT_MISUSE);
}

/* After the rating question a number is the rating; a refusal declines to
 * rate and revokes nothing. */
static void test_ratings_in_context(void **state)
{
    static const struct {
        const char *text, *intent;
        int score;
    } cases[] = {
        {"seven", "nps", 7},           {"a solid eight", "nps", 8},
        {"probably a six", "nps", 6},  {"um five i guess", "nps", 5},
        {"10", "nps", 10},             {"zero", "nps", 0},
        {"nine definitely", "nps", 9}, {"maybe a four", "nps", 4},
        {"no thanks", "other", -1},    {"i'd rather not", "other", -1},
        {"ten pounds for a sandwich is far too expensive", "complaint", -1},
        {"i want to cancel my membership", "cancel", -1},
    };
    assert_int_equal(earshot_intents_set_question(g, EARSHOT_ASK_RATING), EARSHOT_OK);
    int bad = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        earshot_analysis a;
        assert_int_equal(earshot_intents_analyze(g, cases[i].text, &a), EARSHOT_OK);
        if (strcmp(a.intent, cases[i].intent) || a.score != cases[i].score) {
            printf("  \"%s\": %s %d, want %s %d\n", cases[i].text, a.intent, a.score,
                   cases[i].intent, cases[i].score);
            bad++;
        }
    }
    assert_int_equal(earshot_intents_set_question(g, EARSHOT_ASK_NONE), EARSHOT_OK);
    assert_int_equal(bad, 0);
}

static void test_anything_else_and_confirm(void **state)
{
    static const expect anything[] = {
        {"no that's all", "other"},
        {"no thanks that's everything", "other"},
        {"nothing else thanks", "other"},
        {"yes the toilets were filthy", "complaint"},
        {"no one helped me find the milk", "complaint"},
    };
    assert_int_equal(check_in_context(EARSHOT_ASK_ANYTHING_ELSE, anything,
                                      sizeof anything / sizeof *anything, 0), 0);
    static const expect confirm_yes[] = {
        {"yes", "forget_me"}, {"yes please", "forget_me"}, {"yeah go on", "forget_me"},
        {"sure", "forget_me"}, {"yes delete it", "forget_me"}, {"okay", "forget_me"},
    };
    static const expect confirm_no[] = {
        {"no", "other"}, {"no keep it", "other"}, {"actually no", "other"},
        {"i've changed my mind", "other"}, {"no thanks", "other"}, {"nope", "other"},
    };
    assert_int_equal(check_in_context(EARSHOT_ASK_CONFIRM_FORGET, confirm_yes,
                                      sizeof confirm_yes / sizeof *confirm_yes,
                                      EARSHOT_ANSWER_YES), 0);
    assert_int_equal(check_in_context(EARSHOT_ASK_CONFIRM_FORGET, confirm_no,
                                      sizeof confirm_no / sizeof *confirm_no,
                                      EARSHOT_ANSWER_NO), 0);
}


/* A negator before an intent's phrase turns it around; a cancel word
 * that modifies a price noun cancels nothing. */
static void test_negation_scope(void **state)
{
    static const expect cases[] = {
        {"i'm not cancelling", "other"},
        {"i'm not cancelling my subscription", "other"},
        {"i'm not going to cancel", "other"},
        {"i don't want to cancel", "other"},
        {"i don't need any help thanks", "other"},
        {"never had a problem with this shop", "praise"},
        {"i've never had a problem here", "praise"},
        {"what's the cancellation fee on my phone contract", "question"},
        {"is there a cancellation charge", "question"},
        /* and the plain requests still stand */
        {"please cancel my membership", "cancel"},
        {"no i want to cancel", "cancel"},
        {"the card reader doesn't work", "complaint"},
    };
    assert_int_equal(check_intents(cases, sizeof cases / sizeof *cases), 0);
    earshot_analysis a;
    earshot_intents_analyze(g, "i'm not cancelling", &a);
    assert_string_not_equal(a.intent, "cancel");
}

/* A bare number answers the rating question; the same words out of
 * context are no rating when they hold no number. */
static void test_bare_rating_number(void **state)
{
    static const struct {
        const char *text;
        int score;
    } cases[] = {{"6", 6}, {"8", 8}, {"three", 3}, {"seven i suppose", 7}};
    assert_int_equal(earshot_intents_set_question(g, EARSHOT_ASK_RATING), EARSHOT_OK);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        earshot_analysis a;
        assert_int_equal(earshot_intents_analyze(g, cases[i].text, &a), EARSHOT_OK);
        assert_string_equal(a.intent, "nps");
        assert_int_equal(a.score, cases[i].score);
    }
    assert_int_equal(earshot_intents_set_question(g, EARSHOT_ASK_NONE), EARSHOT_OK);
    earshot_analysis a;
    earshot_intents_analyze(g, "i suppose so", &a);
    assert_int_equal(a.score, -1);
}

/* The learned back-off: sentences no template matches (the matcher of
 * the parent commit read both as other; neither is in the dev set) that
 * the model classifies; and nonsense it leaves as other. */
static void test_model_backoff(void **state)
{
    static const expect cases[] = {
        {"end my broadband", "cancel"},
        {"you might consider a family discount", "suggestion"},
        {"purple monkey dishwasher on tuesday", "other"},
        {"the cat sat on the mat", "other"},
        {"my aunt grows tomatoes in her garden", "other"},
        {"let me just find my glasses", "other"},
    };
    assert_int_equal(check_intents(cases, sizeof cases / sizeof *cases), 0);

    /* The model itself, on words of the grammar's vocabulary. */
    earshot__grammar *gr = earshot__grammar_load("grammars/en-us", NULL, NULL);
    assert_non_null(gr);
    size_t ni = earshot__grammar_n_intents(gr);
    int other = -1, cancel = -1;
    for (size_t k = 0; k < ni; k++) {
        if (!strcmp(earshot__grammar_intent(gr, k), "other"))
            other = (int)k;
        if (!strcmp(earshot__grammar_intent(gr, k), "cancel"))
            cancel = (int)k;
    }
    earshot__intent_model *m = earshot__intent_model_train(gr, other);
    assert_non_null(m);
    assert_true(earshot__intent_model_n_sequences(m) > 1000);
    const char *words[] = {"i", "want", "to", "end", "my", "broadband", "contract"};
    int tok[7], num[7];
    double conf[7], post[32];
    for (size_t i = 0; i < 7; i++) {
        tok[i] = earshot__grammar_word_id(gr, words[i], strlen(words[i]));
        num[i] = -1;
        conf[i] = 1.0;
    }
    assert_true(ni <= 32);
    assert_true(earshot__intent_model_classify(m, tok, num, conf, 7, post) >= 5);
    for (size_t k = 0; k < ni; k++)
        assert_true(post[k] <= post[cancel]);
    /* "not" before "end" marks it: the cancel evidence of "end" is gone. */
    const char *neg[] = {"i", "will", "not", "end", "my", "broadband", "contract"};
    double post2[32];
    for (size_t i = 0; i < 7; i++)
        tok[i] = earshot__grammar_word_id(gr, neg[i], strlen(neg[i]));
    earshot__intent_model_classify(m, tok, num, conf, 7, post2);
    assert_true(post2[cancel] < post[cancel]);
    /* Words it never saw say nothing: a uniform posterior. */
    for (size_t i = 0; i < 7; i++)
        tok[i] = -1;
    assert_int_equal(earshot__intent_model_classify(m, tok, num, conf, 7, post), 0);
    assert_true(fabs(post[0] - 1.0 / (double)ni) < 1e-9);
    earshot__intent_model_free(m);
    earshot__grammar_free(gr);
}

/* intent_confidence rises with the raw score for every kind of decision
 * and stays in 0..1; words heard less surely never make it surer. */
static void test_calibration_monotone(void **state)
{
    for (int kind = 0; kind < CAL_N; kind++) {
        for (double heard = 0.0; heard <= 1.0001; heard += 0.25) {
            double last = -1;
            for (double raw = 0.0; raw <= 1.0001; raw += 0.01) {
                double p = earshot__intent_calibrate(kind, raw, heard);
                assert_true(p >= 0.0 && p <= 1.0);
                assert_true(p >= last - 1e-12);
                if (heard >= 0.25)
                    assert_true(earshot__intent_calibrate(kind, raw, heard - 0.25) <= p + 1e-12);
                last = p;
            }
        }
    }
    /* A template matched whole is surer than a cue alone, on text. */
    assert_true(earshot__intent_calibrate(CAL_TEMPLATE, 0.75, 1.0) >
                earshot__intent_calibrate(CAL_TEMPLATE, 0.5, 1.0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_intent),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_sentiment_and_negation),
        cmocka_unit_test(test_scores_zero_to_ten),
        cmocka_unit_test(test_numbers_that_are_not_ratings),
        cmocka_unit_test(test_topics),
        cmocka_unit_test(test_robust_input),
        cmocka_unit_test(test_consent_answers_in_context),
        cmocka_unit_test(test_ratings_in_context),
        cmocka_unit_test(test_anything_else_and_confirm),
        cmocka_unit_test(test_negation_scope),
        cmocka_unit_test(test_bare_rating_number),
        cmocka_unit_test(test_model_backoff),
        cmocka_unit_test(test_calibration_monotone),
    };
    return cmocka_run_group_tests_name("intent", tests, setup, teardown);
}
