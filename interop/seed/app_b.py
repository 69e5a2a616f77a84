# app-b of the seed tutorial, as the seed has it (tutorial step 5, app-b/app_b.py),
# with one change: the seed's `time.sleep(2)` reads APP_B_DELAY_S (default 2,
# the seed's value) so tests and benchmarks can set the wait to 0.
from flask import Flask, jsonify
import requests
import os
import time
from opentelemetry.instrumentation.flask import FlaskInstrumentor
app = Flask(__name__)
FlaskInstrumentor().instrument_app(app)
SERVICE_C_HOST = os.environ.get('SERVICE_C_HOST', 'service_c')
SERVICE_C_PORT = os.environ.get('SERVICE_C_PORT', '5002')
@app.route('/')
def call_app_c():
    time.sleep(float(os.environ.get('APP_B_DELAY_S', '2')))  # the seed: time.sleep(2)
    url = f'http://{SERVICE_C_HOST}:{SERVICE_C_PORT}/'
    message = "I'm app-b"
    try:
        response = requests.get(url, timeout=3)
        response.raise_for_status()
        message += " " + response.text
    except Exception as e:
        print(f"Error while calling Service C: {e}")
        message += " Error calling Service C"
    return message
if __name__ == '__main__':
    PORT = os.environ.get('PORT', '5001')
    app.run(host='0.0.0.0', port=int(PORT))
