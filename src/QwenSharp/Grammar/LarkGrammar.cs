namespace QwenSharp.Grammar;

/// <summary>vLLM's EBNF / Lark grammars (guided_grammar in Lark form) translated to GBNF.</summary>
public static class LarkGrammar
{
    public static string ToGbnf(string lark) => throw new NotImplementedException();
}
