# app-a of the seed tutorial, as the seed has it (tutorial step 5, app-a/app_a.py).
from flask import Flask, jsonify
import requests
import os
app = Flask(__name__)
SERVICE_B_HOST = os.environ.get('SERVICE_B_HOST', 'service_b')
SERVICE_B_PORT = os.environ.get('SERVICE_B_PORT', '5001')
@app.route('/')
def call_app_b():
    url = f'http://{SERVICE_B_HOST}:{SERVICE_B_PORT}/'
    message = "I'm app-a"
    try:
        response = requests.get(url, timeout=3)
        response.raise_for_status()
        message += " " + response.text
    except Exception as e:
        print(f"Error while calling Service B: {e}")
        message += " Error calling Service B"
    return message
if __name__ == '__main__':
    PORT = os.environ.get('PORT', '5000')
    app.run(host='0.0.0.0', port=int(PORT))
