using System.Text;

namespace QwenSharp.Bench;

/// <summary>
/// A deterministic mixed corpus for the tokenizer benchmark: English prose, source code, Chinese (simplified and
/// traditional), Japanese, Korean, Russian, Arabic, Hindi, and emoji, as documents of a few kilobytes. Words are
/// drawn with a Zipf-like skew, as in real text, so caches of frequent words see a realistic hit rate.
/// </summary>
internal static class TokenizerCorpusGenerator
{
    private static readonly string[] English = ("the of and to in a is that for it as was with be by on not he I this are or his from at which " +
        "but have an they you were her she there been one all we their has would when if so no will more about can out up what said " +
        "time people could other into than them only new some years these two may first then do any like my now over such our man " +
        "tokenizer model language training data inference runtime memory throughput latency benchmark sequence attention vector " +
        "government development university important information international particularly understanding responsibility " +
        "Wednesday September Mississippi photosynthesis extraordinary characteristics it's don't we'll they're I'm you've she'd").Split(' ');

    private static readonly string[] Chinese = ("我们 你们 他们 中国 北京 上海 人工智能 机器学习 自然语言 处理 模型 数据 训练 推理 今天 天气 很好 " +
        "发展 经济 社会 文化 历史 科学 技术 研究 学生 老师 学校 时间 问题 方法 系统 网络 计算机 程序 代码 测试 結果 " +
        "這個 那個 我們 語言 學習 電腦 網路 資料 訓練 開發 臺灣 香港 繁體 簡體 的 了 是 在 和 有 不 也 就 都 而 及 與").Split(' ');

    private static readonly string[] Japanese = ("これは テスト です 日本語 の 文章 を 書き ます 東京 大阪 京都 カタカナ ひらがな 漢字 " +
        "コンピューター プログラム データ 学習 モデル 言語 処理 今日 は いい 天気 ですね ありがとう ございます").Split(' ');

    private static readonly string[] Korean = "안녕하세요 한국어 문장 입니다 서울 부산 컴퓨터 프로그램 데이터 학습 모델 언어 처리 오늘 날씨 좋네요 감사합니다".Split(' ');
    private static readonly string[] Russian = "и в не на я быть он с что а по это она этот к но они мы как из у который то за свой язык модель данные обучение".Split(' ');
    private static readonly string[] Arabic = "في من على إلى أن هذا التي الذي مع كان عن بين اللغة النموذج البيانات التعلم الحاسوب العربية".Split(' ');
    private static readonly string[] Hindi = "और का की के में है यह से को पर भी नहीं भाषा मॉडल डेटा सीखना कंप्यूटर हिन्दी भारत".Split(' ');
    private static readonly string[] Emoji = ["😀", "😂", "👍", "👍🏽", "❤️", "🎉", "🔥", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇯🇵", "🤖", "✨", "🧑🏿‍💻", "🙏🏻"];

    private static readonly string[] Code =
    [
        "public static int Sum(int[] values)\n{\n    int total = 0;\n    foreach (var v in values)\n        total += v;\n    return total;\n}\n",
        "def tokenize(text: str) -> list[int]:\n    ids = []\n    for word in text.split():\n        ids.extend(vocab.get(word, [0]))\n    return ids\n",
        "for (int i = 0; i < n; i++) {\r\n\t\tif (a[i] > max) {\r\n\t\t\tmax = a[i];\r\n\t\t}\r\n\t}\r\n",
        "const result = await fetch(`https://api.example.com/v1/items?page=${page}`);\nconst json = await result.json();\nconsole.log(json.items.length);\n",
        "SELECT id, name, created_at FROM users WHERE age >= 18 ORDER BY created_at DESC LIMIT 100;\n",
        "{\n  \"model\": \"qwen2\",\n  \"temperature\": 0.7,\n  \"messages\": [{\"role\": \"user\", \"content\": \"Hello\"}]\n}\n",
        "#include <stdio.h>\n\nint main(void) {\n    printf(\"%d\\n\", 42);\n    return 0;\n}\n",
        "                if (node.left != null && node.right != null) { queue.Enqueue(node.left); }\n",
    ];

    public static string Generate(int targetChars, int seed = 2024)
    {
        var rng = new Random(seed);
        var sb = new StringBuilder(targetChars + 4096);
        while (sb.Length < targetChars)
        {
            int kind = rng.Next(100);
            if (kind < 45) Prose(sb, rng, English, " ", 60, capitalize: true);
            else if (kind < 60) for (int i = rng.Next(2, 8); i > 0; i--) sb.Append(Code[Zipf(rng, Code.Length)]);
            else if (kind < 72) Prose(sb, rng, Chinese, "", 80, capitalize: false, stop: "。");
            else if (kind < 77) Prose(sb, rng, Japanese, "", 60, capitalize: false, stop: "。");
            else if (kind < 81) Prose(sb, rng, Korean, " ", 40, capitalize: false);
            else if (kind < 86) Prose(sb, rng, Russian, " ", 50, capitalize: false);
            else if (kind < 90) Prose(sb, rng, Arabic, " ", 40, capitalize: false, stop: "،");
            else if (kind < 94) Prose(sb, rng, Hindi, " ", 40, capitalize: false, stop: "।");
            else
            {
                for (int i = rng.Next(5, 30); i > 0; i--)
                {
                    sb.Append(English[Zipf(rng, English.Length)]).Append(' ');
                    if (rng.Next(3) == 0) sb.Append(Emoji[rng.Next(Emoji.Length)]).Append(' ');
                }
                sb.Append('\n');
            }
            if (rng.Next(4) == 0) sb.Append(rng.Next(1_000_000)).Append(' ');
            sb.Append('\n');
        }
        return sb.ToString(0, targetChars);
    }

    private static void Prose(StringBuilder sb, Random rng, string[] words, string space, int length, bool capitalize, string stop = ".")
    {
        int n = rng.Next(length / 2, length);
        for (int i = 0; i < n; i++)
        {
            string w = words[Zipf(rng, words.Length)];
            if (capitalize && i == 0) w = char.ToUpperInvariant(w[0]) + w[1..];
            sb.Append(w);
            if (rng.Next(12) == 0) sb.Append(stop == "." ? ", " : "，");
            else if (i + 1 < n) sb.Append(space);
        }
        sb.Append(stop).Append(' ');
    }

    /// <summary>An index in [0, n) skewed toward 0 (word i about as frequent as 1/(i+1)).</summary>
    private static int Zipf(Random rng, int n) => Math.Min(n - 1, (int)(Math.Exp(rng.NextDouble() * Math.Log(n + 1)) - 1));
}
