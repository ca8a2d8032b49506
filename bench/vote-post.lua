-- wrk script: every request is a form vote from a new voter (no cookie), as `curl --data vote=a`.
wrk.method = "POST"
wrk.body = "vote=a"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
