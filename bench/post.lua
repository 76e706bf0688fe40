wrk.method = "POST"
wrk.body = '{"filename":"bench.bin","content_type":"application/octet-stream","size":1024}'
wrk.headers["Content-Type"] = "application/json"
