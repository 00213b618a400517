using System.Text;

namespace QwenSharp.Tests.Text;

/// <summary>
/// Test strings for the tokenizer, deterministic: a handwritten list of the hard cases, then generated
/// mixtures of fragments in many scripts, random code points from the ranges where tokenizers disagree,
/// and lone surrogates. Shared by the differential test and the benchmark corpus idea.
/// </summary>
internal static class TokenizerCorpus
{
    public static readonly string[] Handwritten =
    [
        "", " ", "  ", "\t", "\n", "\r\n", "\n\n\n", " \n ", "a", "A", "hello", "Hello world!", " Hello  world ",
        "The quick brown fox jumps over the lazy dog.", "I'm sure it's John's, they're we've I'd you'll he's",
        "IT'S I'M THEY'RE WE'VE I'D YOU'LL HE'S", "It'S wE'Ve tHEy'rE", "don't 'tis 'twas ''s '", "'s's's", "x'sy'll",
        "'ſ 'ſt aſſ", "rock 'n' roll", "\"quoted\" and 'single'", "Hello\u00A0world", "a\u0085b \u0085 \u0085\u0085",
        "\uFEFFBOM at start", "a\uFEFF b", "zero\u200Bwidth\u200Cjoiner\u200D", "\u3000全角スペース\u3000",
        "12345678901234567890", "3.14159265358979", "1,000,000 and 1 000 000", "0x1F600 0b1010 1e-9", "٣٤٥ ١٢ ۱۲۳",
        "①②③ ⅫⅣ ½ ¾ ²³", "def f(x):\n\treturn x ** 2\n", "if (a) {\r\n    b();\r\n}\r\n",
        "        deeply\n                nested\n                        code\n",
        "\t\t\tint x = 0;\n\t\t\tx++;\n", "for i in range(10):\n    print(i)\n\n\n", "a  \n  b", "trailing spaces   ",
        "   leading", "mixed \t \n \r\n \t whitespace", "line1\rline2\rline3", "\n\r\n\r", "    \n", "x\n\n\n\ny",
        "你好，世界！", "我爱北京天安门。今天天气很好。", "這是繁體中文的句子，適合測試。", "臺灣與香港使用繁體字",
        "日本語のテキスト、ひらがなとカタカナ。", "東京都渋谷区", "ｶﾀｶﾅ ＡＢＣ １２３", "한국어 문장입니다. 안녕하세요!",
        "ㄱㄴㄷ 각 각", "مرحبا بالعالم، كيف حالك؟", "السَّلَامُ عَلَيْكُمْ", "नमस्ते दुनिया। हिन्दी पाठ।", "क्षत्रिय ज्ञान",
        "Привет, мир! Ёлка", "Γειά σου Κόσμε", "שָׁלוֹם עולם", "สวัสดีชาวโลก", "Xin chào thế giới, Tiếng Việt", "Ελληνικά ΑΒΓ",
        "😀 😃 😄 😁", "👨‍👩‍👧‍👦 family", "👍🏽👍🏿👋🏻", "🏳️‍🌈 🏴‍☠️", "❤️ ✌️ ☺️", "🇺🇸🇯🇵🇨🇳", "1️⃣ #️⃣ *️⃣",
        "🧑🏾‍💻 coding", "emoji😀in😃words", "👩‍❤️‍💋‍👨",
        "café", "cafe\u0301", "e\u0301\u0302 o\u0308\u0304", "\u212B \u2126 \u212A", "A\u030A", "\u1E9B\u0323",
        "\u0344 \u0F73 \u0F75", "ḱṷṓn", "\u1100\u1161\u11A8 \u1100\u1161", "\uAC00\u11A8", "q\u0323\u0307 q\u0307\u0323",
        "\U00011935\U00011930 \U00011938", "q\u07FD\u0334 q\u1DF6\u0334 \u0898", "\U0001D15E \U0001D160", "ﬁ ﬂ ﬃ", "Å Å Å",
        "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>",
        "<|im_start|", "<|im_start", "|im_start|>", "< |im_start|>", "<|IM_START|>", "<|im_start|><|im_start|>",
        "x<|im_end|>y", " <|endoftext|> ", "<|endoftext|>\n<|endoftext|>", "<|im_start|>\u0301 after", "e<|im_end|>\u0301",
        "<tool_call>{\"name\": \"f\"}</tool_call>", "<think>\nok\n</think>", "<|fim_prefix|>", "<|object_ref_start|>",
        "https://example.com/path?q=1&r=2#frag", "user@example.com", "C:\\Windows\\System32", "~/.bashrc && ls -la | grep x",
        "$x = @{a=1}; #comment", "<div class=\"a\">Hi</div>", "SELECT * FROM t WHERE x >= 10;", "{\"key\": [1, 2, {\"n\": null}]}",
        "...!!!???", "—– – -- ---", "«guillemets» „Anführungszeichen“", "¿Qué? ¡Sí!", "a/b\\c|d", "@@@###$$$%%%",
        "\u0000\u0001\u001F\u007F", "tab\there", "\v\f", "\u2028\u2029", "\u00AD soft hyphen", "\u200E\u200F marks",
        "\U0001F600\U0001F600\U0001F600", "\U00020000\U0002A6D6 CJK ext", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛", "\uE000 private \U000F0000",
        "\uFFFD replacement", "\uFFFE\uFFFF nonchars", "ǅ ǈ titlecase", "ʰʲ modifier", "Ⅻ roman", "〇一二",
    ];

    private static readonly string[] Fragments =
    [
        "the", "The", " of", " and", "tokenizer", "Tokenization", " encode", "decode()", "hello", "world", "ABC", "CamelCaseWord",
        "snake_case_name", "kebab-case", "don't", "it's", "They'RE", "we'll", "I'M", "o'clock", "naïve", "résumé", "façade",
        "Straße", "Ærøskøbing", "İstanbul", "ﬁnance", "北京", "上海市", "人工智能", "机器学习", "繁體字", "語言模型", "學習",
        "こんにちは", "カタカナ", "漢字かな交じり文", "ｈａｌｆ", "서울특별시", "대한민국", "인공지능", "مرحبا", "العربية", "كتاب",
        "हिन्दी", "भारत", "विज्ञान", "русский", "язык", "ελληνικά", "עברית", "ไทย", "Tiếng Việt", "ქართული", "Հայերեն",
        "😀", "👍🏽", "👨‍👩‍👧", "🏳️‍🌈", "🇫🇷", "❤️", "🤖", "🧑🏿‍🚀", "✨", "🎉🎉", "0", "7", "42", "2024", "3.14", "1e10",
        "123456789012345", "٣٤", "①", "½", "\t", "\n", "\r\n", "  ", "    ", "\t\t", "\n\n", " \n", "\u00A0", "\u3000", "\u0085",
        "\u200D", "\uFEFF", "'s", "'S", "'ll", "'LL", "'Re", "'ve", "'m", "'d", "'t", "(", ")", "[", "]", "{", "}", "<", ">",
        "=>", "->", "::", "!=", "==", "+=", "&&", "||", "/*", "*/", "//", "#", "\"", "'", "`", ",", ".", ";", ":", "!", "?",
        "...", "—", "…", "«", "»", "¿", "e\u0301", "a\u0308", "\u0301", "\u0323\u0307", "\u1161", "\u11A8", "\u1100",
        "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_start", "im_end|>", "<|", "|>", "def ", "return ", "    ", "public void",
        "int main()", "{\n", "}\n", "x = 1", "console.log(", "$HOME", "https://", "www.", ".com", "@", "%", "^", "~", "_", "\\",
    ];

    private static readonly (int From, int To)[] CodePointRanges =
    [
        (0x20, 0x7E), (0x00, 0x20), (0x7F, 0xFF), (0x100, 0x24F), (0x250, 0x2FF), (0x300, 0x36F), (0x370, 0x3FF),
        (0x400, 0x4FF), (0x590, 0x5FF), (0x600, 0x6FF), (0x900, 0x97F), (0x980, 0x9FF), (0xE00, 0xE7F), (0x1100, 0x11FF),
        (0x1E00, 0x1EFF), (0x2000, 0x206F), (0x2070, 0x20CF), (0x2100, 0x218F), (0x2460, 0x24FF), (0x3000, 0x30FF),
        (0x3130, 0x318F), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xF900, 0xFAFF), (0xFB00, 0xFB4F), (0xFE00, 0xFE0F),
        (0xFE30, 0xFEFF), (0xFF00, 0xFFEF), (0x1F300, 0x1F6FF), (0x1F900, 0x1F9FF), (0x1F3FB, 0x1F3FF), (0x1D400, 0x1D7FF),
        (0x10000, 0x1007F), (0x11000, 0x111FF), (0x20000, 0x2A6DF), (0xE0000, 0xE007F),
    ];

    /// <summary>Mixtures of fragments joined by nothing, spaces or punctuation.</summary>
    public static IEnumerable<string> Mixtures(int count, int seed)
    {
        var rng = new Random(seed);
        string[] joiners = ["", " ", " ", "", "\n", ", ", "  ", "\t", "-", "'"];
        for (int k = 0; k < count; k++)
        {
            var sb = new StringBuilder();
            int parts = rng.Next(1, 12);
            for (int p = 0; p < parts; p++)
            {
                if (p > 0) sb.Append(joiners[rng.Next(joiners.Length)]);
                sb.Append(Fragments[rng.Next(Fragments.Length)]);
            }
            yield return sb.ToString();
        }
    }

    /// <summary>Random code points from scripts, marks, symbols, emoji and white space of every kind.</summary>
    public static IEnumerable<string> RandomCodePoints(int count, int seed)
    {
        var rng = new Random(seed);
        for (int k = 0; k < count; k++)
        {
            var sb = new StringBuilder();
            int length = rng.Next(1, 24);
            for (int i = 0; i < length; i++)
            {
                var (from, to) = CodePointRanges[rng.Next(CodePointRanges.Length)];
                int cp = rng.Next(from, to + 1);
                if (cp is >= 0xD800 and <= 0xDFFF) cp = 'x';
                sb.Append(char.ConvertFromUtf32(cp));
            }
            yield return sb.ToString();
        }
    }

    /// <summary>Strings with unpaired high and low surrogates put in.</summary>
    public static IEnumerable<string> LoneSurrogates(int count, int seed)
    {
        var rng = new Random(seed);
        foreach (string s in Mixtures(count, seed + 1))
        {
            var sb = new StringBuilder(s);
            int inserts = rng.Next(1, 4);
            for (int i = 0; i < inserts; i++)
            {
                int at = rng.Next(sb.Length + 1);
                // do not split an existing pair, so the count of lone surrogates is exactly what we put in
                if (at > 0 && at < sb.Length && char.IsHighSurrogate(sb[at - 1])) at--;
                sb.Insert(at, (char)(rng.Next(2) == 0 ? rng.Next(0xD800, 0xDC00) : rng.Next(0xDC00, 0xE000)));
            }
            yield return sb.ToString();
        }
    }

    /// <summary>Long runs: digits, spaces, newlines, one repeated letter or CJK character, a long word.</summary>
    public static IEnumerable<string> Runs()
    {
        foreach (int n in new[] { 1, 2, 3, 7, 16, 33, 100, 257 })
        {
            yield return new string('9', n);
            yield return new string(' ', n) + "x";
            yield return "x" + new string(' ', n);
            yield return new string('\n', n);
            yield return string.Concat(Enumerable.Repeat("\r\n", n));
            yield return new string('a', n);
            yield return new string('中', n);
            yield return string.Concat(Enumerable.Repeat("😀", n));
            yield return string.Concat(Enumerable.Repeat("ab", n));
            yield return new string('-', n);
            yield return new string('\t', n) + "code";
        }
    }
}
