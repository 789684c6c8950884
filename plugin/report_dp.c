/* report_dp.c - placeholder */
