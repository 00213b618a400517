using System.Text.Json.Nodes;
using QwenSharp.Text;
using QwenSharp.Text.Jinja;

namespace QwenSharp.Tests.Text;

/// <summary>
/// Chat templates that use more of Jinja than the fixtures: Qwen3-Coder's (a macro, loop filters with
/// `not in`, |items, tojson|safe, loop.previtem/nextitem), Llama 3.2's
/// (tojson(indent=4), trim, set over messages, strftime_now is defined, raise_exception) and a
/// Mistral v0.3-style tool template (selectattr/rejectattr chains, loop filters, dict equality,
/// tool.items(), content|string printing a Python dict, and an undefined variable iterated through
/// filters). Expected strings are Jinja2 3.1.6's output in transformers' apply_chat_template environment,
/// with bos_token "&lt;s&gt;", eos_token "&lt;/s&gt;" and date_string "26 Jul 2024".
/// </summary>
public class ChatTemplateRealWorldTests
{
    private const string Llama32 = """"
{{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- if strftime_now is defined %}
        {%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}
        {%- set date_string = "26 Jul 2024" %}
    {%- endif %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message #}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{%- if tools is not none %}
    {{- "Environment: ipython\n" }}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\n\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\n\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
        {{- '{"name": "' + tool_call.name + '", ' }}
        {{- '"parameters": ' }}
        {{- tool_call.arguments | tojson }}
        {{- "}" }}
        {{- "<|eot_id|>" }}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\n\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}

"""";

    private const string Qwen3Coder = """"
{% macro render_extra_keys(json_dict, handled_keys) %}
    {%- if json_dict is mapping %}
        {%- for json_key in json_dict if json_key not in handled_keys %}
            {%- if json_dict[json_key] is mapping or (json_dict[json_key] is sequence and json_dict[json_key] is not string) %}
                {{- '\n<' ~ json_key ~ '>' ~ (json_dict[json_key] | tojson | safe) ~ '</' ~ json_key ~ '>' }}
            {%- else %}
                {{-'\n<' ~ json_key ~ '>' ~ (json_dict[json_key] | string) ~ '</' ~ json_key ~ '>' }}
            {%- endif %}
        {%- endfor %}
    {%- endif %}
{% endmacro %}

{%- if messages[0]["role"] == "system" %}
    {%- set system_message = messages[0]["content"] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}

{%- if not tools is defined %}
    {%- set tools = [] %}
{%- endif %}

{%- if system_message is defined %}
    {{- "<|im_start|>system\n" + system_message }}
{%- else %}
    {%- if tools is iterable and tools | length > 0 %}
        {{- "<|im_start|>system\nYou are Qwen, a helpful AI assistant that can interact with a computer to solve tasks." }}
    {%- endif %}
{%- endif %}
{%- if tools is iterable and tools | length > 0 %}
    {{- "\n\n# Tools\n\nYou have access to the following tools:\n\n" }}
    {{- "<tools>" }}
    {%- for tool in tools %}
        {%- if tool.function is defined %}
            {%- set tool = tool.function %}
        {%- endif %}
        {{- "\n<function>\n<name>" ~ tool.name ~ "</name>" }}
        {%- if tool.description is defined %}
            {{- '\n<description>' ~ (tool.description | trim) ~ '</description>' }}
        {%- endif %}
        {{- '\n<parameters>' }}
        {%- if tool.parameters is defined and tool.parameters is mapping and tool.parameters.properties is defined and tool.parameters.properties is mapping %}
            {%- for param_name, param_fields in tool.parameters.properties|items %}
                {{- '\n<parameter>' }}
                {{- '\n<name>' ~ param_name ~ '</name>' }}
                {%- if param_fields.type is defined %}
                    {{- '\n<type>' ~ (param_fields.type | string) ~ '</type>' }}
                {%- endif %}
                {%- if param_fields.description is defined %}
                    {{- '\n<description>' ~ (param_fields.description | trim) ~ '</description>' }}
                {%- endif %}
                {%- set handled_keys = ['name', 'type', 'description'] %}
                {{- render_extra_keys(param_fields, handled_keys) }}
                {{- '\n</parameter>' }}
            {%- endfor %}
        {%- endif %}
        {% set handled_keys = ['type', 'properties'] %}
        {{- render_extra_keys(tool.parameters, handled_keys) }}
        {{- '\n</parameters>' }}
        {%- set handled_keys = ['type', 'name', 'description', 'parameters'] %}
        {{- render_extra_keys(tool, handled_keys) }}
        {{- '\n</function>' }}
    {%- endfor %}
    {{- "\n</tools>" }}
    {{- '\n\nIf you choose to call a tool ONLY reply in the following format with NO suffix:\n\n<tool_call>\n<function=example_function_name>\n<parameter=example_parameter_1>\nvalue_1\n</parameter>\n<parameter=example_parameter_2>\nvalue_2\n</parameter>\n</function>\n</tool_call>' }}
{%- endif %}
{%- if system_message is defined %}
    {{- '<|im_end|>\n' }}
{%- else %}
    {%- if tools is iterable and tools | length > 0 %}
        {{- '<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in loop_messages %}
    {%- if message.role == "assistant" and message.tool_calls is defined and message.tool_calls is iterable and message.tool_calls | length > 0 %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content is defined and message.content is string and message.content | trim | length > 0 %}
            {{- '\n' + message.content | trim + '\n' }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n<function=' + tool_call.name + '>\n' }}
            {%- if tool_call.arguments is defined %}
                {%- for args_name, args_value in tool_call.arguments|items %}
                    {{- '<parameter=' + args_name + '>\n' }}
                    {%- set args_value = args_value | tojson | safe if args_value is mapping or (args_value is sequence and args_value is not string) else args_value | string %}
                    {{- args_value }}
                    {{- '\n</parameter>\n' }}
                {%- endfor %}
            {%- endif %}
            {{- '</function>\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "user" or message.role == "system" or message.role == "assistant" %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.previtem and loop.previtem.role != "tool" %}
            {{- '<|im_start|>user\n' }}
        {%- endif %}
        {{- '<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>\n' }}
        {%- if not loop.last and loop.nextitem.role != "tool" %}
            {{- '<|im_end|>\n' }}
        {%- elif loop.last %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- else %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}

"""";

    private const string Mistral = """"
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}
{%- set user_messages = messages | selectattr("role", "equalto", "user") | list %}

{%- for message in lmessages | rejectattr("role", "equalto", "tool") | rejectattr("role", "equalto", "tool_results") | selectattr("tool_calls", "undefined") %}
    {%- if (message["role"] == "user") != (loop.index0 % 2 == 0) %}
        {{- raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif %}
{%- endfor %}

{{- bos_token }}
{%- for message in messages %}
    {%- if message["role"] == "user" %}
        {{- "[INST] " }}
        {%- if tools is not none and (message == user_messages[-1]) %}
            {{- "[AVAILABLE_TOOLS] [" }}
            {%- for tool in tools %}
                {%- set tool = tool.function %}
                {{- '{"type": "function", "function": {' }}
                {%- for key, val in tool.items() if key != "return" %}
                    {%- if val is string %}
                        {{- '"' + key + '": "' + val + '"' }}
                    {%- else %}
                        {{- '"' + key + '": ' + val|tojson }}
                    {%- endif %}
                    {%- if not loop.last %}
                        {{- ", " }}
                    {%- endif %}
                {%- endfor %}
                {{- "}}" }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- else %}
                    {{- "]" }}
                {%- endif %}
            {%- endfor %}
            {{- "[/AVAILABLE_TOOLS]" }}
        {%- endif %}
        {{- message["content"] + "[/INST]" }}
    {%- elif message["role"] == "tool_calls" or message.tool_calls is defined %}
        {%- if message.tool_calls is defined %}
            {%- set tool_calls = message.tool_calls %}
        {%- else %}
            {%- set tool_calls = message.content %}
        {%- endif %}
        {{- "[TOOL_CALLS] [" }}
        {%- for tool_call in tool_calls %}
            {%- set out = tool_call.function|tojson %}
            {{- out }}
            {%- if not loop.last %}
                {{- ", " }}
            {%- else %}
                {{- "]" }}
            {%- endif %}
        {%- endfor %}
    {%- elif message["role"] == "assistant" %}
        {{- " " + message["content"] }}
    {%- elif message["role"] == "tool_results" or message["role"] == "tool" %}
        {%- if message.content is defined and message.content.content is defined %}
            {%- set content = message.content.content %}
        {%- else %}
            {%- set content = message.content %}
        {%- endif %}
        {{- '[TOOL_RESULTS] {"content": ' + content|string + "}[/TOOL_RESULTS]" }}
    {%- else %}
        {{- raise_exception("Only user and assistant roles are supported, with the exception of an initial optional system message!") }}
    {%- endif %}
{%- endfor %}

"""";

    [Theory]
    [InlineData("qwen3coder", "[{\"role\": \"user\", \"content\": \"Weather in Paris?\"}, {\"role\": \"assistant\", \"content\": \"\", \"tool_calls\": [{\"id\": \"c1\", \"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2, \"ratio\": 0.25}}}]}, {\"role\": \"tool\", \"content\": \"{\\\"temp\\\": 21.5}\"}]", "[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Météo ☀️ \\\"quoted\\\"\\nline2\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}, \"days\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 10, \"default\": 3}, \"temp\": {\"type\": \"number\", \"multipleOf\": 0.5, \"eps\": 1e-07, \"big\": 12345678901234567890, \"neg\": -0.0}, \"flags\": {\"type\": \"array\", \"items\": {\"type\": \"boolean\"}, \"default\": [true, false, null]}}, \"required\": [\"city\"]}, \"return\": {\"type\": \"string\"}}}, {\"type\": \"function\", \"function\": {\"name\": \"search\", \"description\": \"搜索\", \"parameters\": {\"type\": \"object\", \"properties\": {\"q\": {\"type\": \"string\"}}}}}]", true, "expected", "<|im_start|>system\nYou are Qwen, a helpful AI assistant that can interact with a computer to solve tasks.\n\n# Tools\n\nYou have access to the following tools:\n\n<tools>\n<function>\n<name>get_weather</name>\n<description>Météo ☀️ \"quoted\"\nline2</description>\n<parameters>\n<parameter>\n<name>city</name>\n<type>string</type>\n</parameter>\n<parameter>\n<name>days</name>\n<type>integer</type>\n<minimum>1</minimum>\n<maximum>10</maximum>\n<default>3</default>\n</parameter>\n<parameter>\n<name>temp</name>\n<type>number</type>\n<multipleOf>0.5</multipleOf>\n<eps>1e-07</eps>\n<big>12345678901234567890</big>\n<neg>-0.0</neg>\n</parameter>\n<parameter>\n<name>flags</name>\n<type>array</type>\n<items>{\"type\": \"boolean\"}</items>\n<default>[true, false, null]</default>\n</parameter>\n<required>[\"city\"]</required>\n</parameters>\n<return>{\"type\": \"string\"}</return>\n</function>\n<function>\n<name>search</name>\n<description>搜索</description>\n<parameters>\n<parameter>\n<name>q</name>\n<type>string</type>\n</parameter>\n</parameters>\n</function>\n</tools>\n\nIf you choose to call a tool ONLY reply in the following format with NO suffix:\n\n<tool_call>\n<function=example_function_name>\n<parameter=example_parameter_1>\nvalue_1\n</parameter>\n<parameter=example_parameter_2>\nvalue_2\n</parameter>\n</function>\n</tool_call><|im_end|>\n<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n<parameter=days>\n2\n</parameter>\n<parameter=ratio>\n0.25\n</parameter>\n</function>\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n{\"temp\": 21.5}\n</tool_response>\n<|im_end|>\n<|im_start|>assistant\n")]
    [InlineData("qwen3coder", "[{\"role\": \"user\", \"content\": \"q1\"}, {\"role\": \"assistant\", \"content\": \"<think>\\nhmm\\n</think>\\n\\nA1\"}, {\"role\": \"user\", \"content\": \"q2\"}, {\"role\": \"assistant\", \"content\": \"A2\", \"reasoning_content\": \"r2\"}, {\"role\": \"user\", \"content\": \"<tool_response>x</tool_response>\"}]", "null", false, "expected", "<|im_start|>user\nq1<|im_end|>\n<|im_start|>assistant\n<think>\nhmm\n</think>\n\nA1<|im_end|>\n<|im_start|>user\nq2<|im_end|>\n<|im_start|>assistant\nA2<|im_end|>\n<|im_start|>user\n<tool_response>x</tool_response><|im_end|>\n")]
    [InlineData("llama32", "[{\"role\": \"user\", \"content\": \"Weather in Paris?\"}, {\"role\": \"assistant\", \"content\": \"\", \"tool_calls\": [{\"id\": \"c1\", \"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2, \"ratio\": 0.25}}}]}, {\"role\": \"tool\", \"content\": \"{\\\"temp\\\": 21.5}\"}]", "[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Météo ☀️ \\\"quoted\\\"\\nline2\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}, \"days\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 10, \"default\": 3}, \"temp\": {\"type\": \"number\", \"multipleOf\": 0.5, \"eps\": 1e-07, \"big\": 12345678901234567890, \"neg\": -0.0}, \"flags\": {\"type\": \"array\", \"items\": {\"type\": \"boolean\"}, \"default\": [true, false, null]}}, \"required\": [\"city\"]}, \"return\": {\"type\": \"string\"}}}, {\"type\": \"function\", \"function\": {\"name\": \"search\", \"description\": \"搜索\", \"parameters\": {\"type\": \"object\", \"properties\": {\"q\": {\"type\": \"string\"}}}}}]", true, "expected", "<s><|start_header_id|>system<|end_header_id|>\n\nEnvironment: ipython\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nGiven the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\n\nRespond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.Do not use variables.\n\n{\n    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"get_weather\",\n        \"description\": \"Météo ☀️ \\\"quoted\\\"\\nline2\",\n        \"parameters\": {\n            \"type\": \"object\",\n            \"properties\": {\n                \"city\": {\n                    \"type\": \"string\"\n                },\n                \"days\": {\n                    \"type\": \"integer\",\n                    \"minimum\": 1,\n                    \"maximum\": 10,\n                    \"default\": 3\n                },\n                \"temp\": {\n                    \"type\": \"number\",\n                    \"multipleOf\": 0.5,\n                    \"eps\": 1e-07,\n                    \"big\": 12345678901234567890,\n                    \"neg\": -0.0\n                },\n                \"flags\": {\n                    \"type\": \"array\",\n                    \"items\": {\n                        \"type\": \"boolean\"\n                    },\n                    \"default\": [\n                        true,\n                        false,\n                        null\n                    ]\n                }\n            },\n            \"required\": [\n                \"city\"\n            ]\n        },\n        \"return\": {\n            \"type\": \"string\"\n        }\n    }\n}\n\n{\n    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"search\",\n        \"description\": \"搜索\",\n        \"parameters\": {\n            \"type\": \"object\",\n            \"properties\": {\n                \"q\": {\n                    \"type\": \"string\"\n                }\n            }\n        }\n    }\n}\n\nWeather in Paris?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"days\": 2, \"ratio\": 0.25}}<|eot_id|><|start_header_id|>ipython<|end_header_id|>\n\n\"{\\\"temp\\\": 21.5}\"<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")]
    [InlineData("llama32", "[{\"role\": \"system\", \"content\": \"  Be brief.  \\n\"}, {\"role\": \"user\", \"content\": \"Hi \ud83d\ude00\"}, {\"role\": \"assistant\", \"content\": \"Hello!\"}, {\"role\": \"user\", \"content\": \"2+2?\"}]", "null", true, "expected", "<s><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi \ud83d\ude00<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")]
    [InlineData("llama32", "[{\"role\": \"user\", \"content\": \"find\"}, {\"role\": \"assistant\", \"content\": \"Let me look.\", \"tool_calls\": [{\"type\": \"function\", \"function\": {\"name\": \"search\", \"arguments\": \"{\\\"q\\\": \\\"cats\\\"}\"}}, {\"type\": \"function\", \"function\": {\"name\": \"search\", \"arguments\": {\"q\": \"dogs\"}}}]}, {\"role\": \"tool\", \"content\": \"r1\"}, {\"role\": \"tool\", \"content\": \"r2\"}, {\"role\": \"assistant\", \"content\": \"Done.\"}, {\"role\": \"user\", \"content\": \"thanks\"}]", "[{\"type\": \"function\", \"function\": {\"name\": \"search\", \"description\": \"搜索\", \"parameters\": {\"type\": \"object\", \"properties\": {\"q\": {\"type\": \"string\"}}}}}]", true, "raised", "This model only supports single tool-calls at once!")]
    [InlineData("mistral", "[{\"role\": \"user\", \"content\": \"Weather in Paris?\"}, {\"role\": \"assistant\", \"content\": \"\", \"tool_calls\": [{\"id\": \"c1\", \"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2, \"ratio\": 0.25}}}]}, {\"role\": \"tool\", \"content\": \"{\\\"temp\\\": 21.5}\"}]", "[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Météo ☀️ \\\"quoted\\\"\\nline2\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}, \"days\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 10, \"default\": 3}, \"temp\": {\"type\": \"number\", \"multipleOf\": 0.5, \"eps\": 1e-07, \"big\": 12345678901234567890, \"neg\": -0.0}, \"flags\": {\"type\": \"array\", \"items\": {\"type\": \"boolean\"}, \"default\": [true, false, null]}}, \"required\": [\"city\"]}, \"return\": {\"type\": \"string\"}}}, {\"type\": \"function\", \"function\": {\"name\": \"search\", \"description\": \"搜索\", \"parameters\": {\"type\": \"object\", \"properties\": {\"q\": {\"type\": \"string\"}}}}}]", true, "expected", "<s>[INST] [AVAILABLE_TOOLS] [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Météo ☀️ \"quoted\"\nline2\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}, \"days\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 10, \"default\": 3}, \"temp\": {\"type\": \"number\", \"multipleOf\": 0.5, \"eps\": 1e-07, \"big\": 12345678901234567890, \"neg\": -0.0}, \"flags\": {\"type\": \"array\", \"items\": {\"type\": \"boolean\"}, \"default\": [true, false, null]}}, \"required\": [\"city\"]}}}, {\"type\": \"function\", \"function\": {\"name\": \"search\", \"description\": \"搜索\", \"parameters\": {\"type\": \"object\", \"properties\": {\"q\": {\"type\": \"string\"}}}}}][/AVAILABLE_TOOLS]Weather in Paris?[/INST][TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2, \"ratio\": 0.25}}][TOOL_RESULTS] {\"content\": {\"temp\": 21.5}}[/TOOL_RESULTS]")]
    [InlineData("mistral", "[{\"role\": \"user\", \"content\": \"x\"}, {\"role\": \"tool\", \"content\": {\"content\": {\"a\": 1, \"b\": [true, null, 1.5, \"s'q\"]}}}]", "null", false, "expected", "<s>[INST] x[/INST][TOOL_RESULTS] {\"content\": {'a': 1, 'b': [True, None, 1.5, \"s'q\"]}}[/TOOL_RESULTS]")]
    [InlineData("mistral", "[{\"role\": \"system\", \"content\": \"  Be brief.  \\n\"}, {\"role\": \"user\", \"content\": \"Hi \ud83d\ude00\"}, {\"role\": \"assistant\", \"content\": \"Hello!\"}, {\"role\": \"user\", \"content\": \"2+2?\"}]", "null", true, "raised", "Only user and assistant roles are supported, with the exception of an initial optional system message!")]

    public void RendersLikeJinja2(string template, string messagesJson, string toolsJson, bool addGenerationPrompt, string outcome, string text)
    {
        // Raw string literals drop the newline after the opening quotes and before the closing ones; the
        // template files had a trailing newline, which Jinja2 drops anyway.
        var source = template switch { "llama32" => Llama32, "qwen3coder" => Qwen3Coder, _ => Mistral };
        var chat = ChatTemplate.Parse(source, template, "<s>", "</s>");
        var extra = new Dictionary<string, JsonNode?> { ["date_string"] = "26 Jul 2024" };
        string Render() => chat.Render((JsonArray)JsonNode.Parse(messagesJson)!, JsonNode.Parse(toolsJson) as JsonArray, addGenerationPrompt, extra);
        if (outcome == "expected")
        {
            Assert.Equal(text, Render());
        }
        else
        {
            var e = Assert.Throws<TemplateException>(Render);
            Assert.Equal(TemplateErrorKind.Raised, e.Kind);
            Assert.Equal(text, e.Detail);
        }
    }
}
