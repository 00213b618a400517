namespace QwenSharp.Grammar;

/// <summary>
/// A grammar compiled against one vocabulary: immutable and thread-safe, shared by every sequence that uses the
/// same grammar text (see <see cref="GrammarCache"/>). Each sequence walks it with its own <see cref="GrammarMatcher"/>.
/// </summary>
public sealed class CompiledGrammar
{
    /// <summary>Compiles GBNF text (llama.cpp's grammar syntax). Throws <see cref="GrammarException"/> naming the
    /// rule, line and column of what is wrong (undefined rule, left recursion, a rule that derives no finite text, a limit).</summary>
    public static CompiledGrammar Compile(string gbnf, GrammarVocabulary vocabulary, string rootRule = "root") =>
        throw new NotImplementedException();

    public GrammarVocabulary Vocabulary => throw new NotImplementedException();
}

/// <summary>Compiled grammars cached by (vocabulary, text, root), so a schema sent with every request compiles once.</summary>
public sealed class GrammarCache(int capacity = 256)
{
    public int Capacity { get; } = capacity;

    public CompiledGrammar GetOrCompile(string gbnf, GrammarVocabulary vocabulary, string rootRule = "root") =>
        throw new NotImplementedException();
}
