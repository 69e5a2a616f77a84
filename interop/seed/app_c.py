# app-c of the seed tutorial, as the seed has it (tutorial step 5, app-c/app_c.py).
from flask import Flask, jsonify
import os
from opentelemetry.instrumentation.flask import FlaskInstrumentor
app = Flask(__name__)
FlaskInstrumentor().instrument_app(app)
@app.route('/')
def home():
    message = "I'm app-c"
    return message
if __name__ == '__main__':
    PORT = os.environ.get('PORT', '5002')
    app.run(host='0.0.0.0', port=int(PORT))
