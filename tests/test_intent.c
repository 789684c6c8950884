/* test_intent.c - the shipped en-us grammar on fixed sentences: each
 * intent, negation, precedence, the rating slot in many phrasings and
 * numbers that are no rating. None of these sentences is in the dev set. */
#include "earshot.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

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
    };
    return cmocka_run_group_tests_name("intent", tests, setup, teardown);
}
