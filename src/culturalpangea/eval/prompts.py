"""Prompt text for every benchmark, following the reference evaluation each one is reported with.

Sources (PangeaBench, the lmms-eval fork the Pangea and CulturalPangea papers evaluate with, and the
benchmarks' own scripts):
- CVQA: "Question: {q} \\n\\n Options: {A. …\\nB. …} \\n\\n Answer with the option's letter from the
  given choices directly." (native-language question and options; 16 new tokens);
- MaRVL: "Does the content of the image support the given text? Text: {hypothesis}\\nOptions: (a) false
  (b) true. Answer with the option directly." on the horizontally stacked image pair (16 tokens);
- MaXM: "Given the image and the question, provide a concise answer. {q}\\nAnswer the question using a
  single word or phrase in {Language}." (64 tokens);
- M3Exam: an in-language instruction naming the subject, the background, the question with its first
  image placeholder, the options "(A) …", and the in-language "Answer:" cue (16 tokens, PangeaBench's length);
- XM100: "Provide a one-sentence caption for the provided image in {Language}." (128 tokens);
- ALM-Bench: the benchmark's own per-question-type prompts (MCQ, true/false, short, long);
- MERLIN: no reference prompt for generative models exists; ours asks for the English Wikipedia
  title of the mentioned entity given the image and the article title.
The image placeholder goes first (`<image>\\n` + text) as in LLaVA-style evaluation, except M3Exam,
whose question text marks where its images belong.
"""

from __future__ import annotations

from collections.abc import Sequence

from culturalpangea.eval.metrics.mcq import letter
from shard_contract.tokens import IMAGE_TOKEN


def with_images(text: str, n_images: int = 1) -> str:
    """Image placeholders first, one per line, then the text."""
    return "".join(f"{IMAGE_TOKEN}\n" for _ in range(n_images)) + text


def lettered(options: Sequence[str], style: str = "{letter}. {option}") -> list[str]:
    """Options as lines 'A. …', 'B. …' (or another `style`)."""
    return [style.format(letter=letter(i), option=option) for i, option in enumerate(options)]


def cvqa_prompt(question: str, options: Sequence[str]) -> str:
    choices = "\n".join(lettered(options))
    return with_images(
        f"Question: {question} \n\n Options: {choices} \n\n "
        "Answer with the option's letter from the given choices directly."
    )


MARVL_OPTIONS = {"a": False, "b": True}


def marvl_prompt(hypothesis: str) -> str:
    return with_images(
        f"Does the content of the image support the given text? Text: {hypothesis.strip()}\n"
        "Options: (a) false (b) true. Answer with the option directly."
    )


def maxm_prompt(question: str, language_name: str) -> str:
    return with_images(
        f"Given the image and the question, provide a concise answer. {question.strip()}\n"
        f"Answer the question using a single word or phrase in {language_name}."
    )


def xm_caption_prompt(language_code: str, language_name: str) -> str:
    """PangeaBench's XM100 prompt: "… in {Language}." except for English, whose prompt names no language."""
    suffix = "" if language_code == "en" else f" in {language_name}"
    return with_images(f"Provide a one-sentence caption for the provided image{suffix}.")


ALM_MCQ = (
    "For the given Multiple Choice Question, analyze the question and answer strictly from one of the "
    "options below. Strictly answer the choice only. No additional text.\n"
)


def alm_prompt(question_type: str, question: str, language_name: str, choices: str | None = None) -> str:
    if question_type == "mcq":
        return with_images(f"{ALM_MCQ}{question}\n{choices}")
    if question_type == "yesno":
        return with_images(
            f"{question}\nThe above question is a True/False question. "
            f"Please provide the answer as one word in {language_name}"
        )
    if question_type == "long":
        return with_images(f"{question}\nAnswer the question in detail in {language_name} language.")
    return with_images(f"{question}\nPlease provide brief, clear responses in {language_name} language.")


def merlin_prompt(article_title: str, mention: str) -> str:
    return with_images(
        f"Article title: {article_title.strip()}\n"
        f"Mention: {mention.strip()}\n"
        "Which entity does the mention refer to, given the image and the article title? "
        "Answer with the entity's English Wikipedia title only."
    )


# M3Exam: in-language instruction (subject named in the language) and answer cue, as PangeaBench.
M3EXAM_SUBJECTS: dict[str, dict[str, str]] = {
    "english": {"language": "English", "math": "Math", "social-science": "Social Science",
                "natural-science": "Natural Science"},
    "chinese": {"language": "语文", "math": "数学", "social-science": "社会科学", "natural-science": "自然科学"},
    "thai": {"language": "ภาษาไทย", "math": "คณิตศาสตร์", "social-science": "สังคมศึกษา",
             "natural-science": "วิทยาศาสตร์"},
    "vietnamese": {"language": "Tiếng Việt", "math": "Toán", "social-science": "Khoa học xã hội",
                   "natural-science": "Khoa học tự nhiên"},
    "italian": {"language": "Italiano", "math": "Matematica", "social-science": "Scienze sociali",
                "natural-science": "Scienze naturali"},
    "afrikaans": {"language": "Afrikaans Huistaal", "math": "Wiskunde", "social-science": "Sosiale Wetenskappe",
                  "natural-science": "Natuurwetenskap"},
    "portuguese": {"language": "Linguagens", "math": "Matemática", "social-science": "Ciências Humanas",
                   "natural-science": "Ciências da Natureza"},
}
M3EXAM_HINTS: dict[str, str] = {
    "english": "The following is a multiple choice question about {subject}. Please only respond with the "
               "letter (A, B, C, or D) corresponding to the correct answer, without any additional explanation.",
    "chinese": "以下是关于{subject}的单项选择题。 请仅给出正确选项对应的选项序号（A, B, C, 或 D） 而非其他细节。",
    "thai": "ต่อไปนี้เป็นคำถามแบบปรนัย วิชา{subject} โปรดตอบเพียงตัวอักษร (A, B, C หรือ D) ที่ตรงกับคำตอบที่ถูกต้อง "
            "โดยไม่ต้องมีคำอธิบายเพิ่มเติม",
    "vietnamese": "Sau đây là câu hỏi trắc nghiệm về {subject}. Vui lòng chỉ trả lời bằng chữ cái (A, B, C hoặc D) "
                  "tương ứng với câu trả lời đúng, không cần giải thích thêm.",
    "italian": "La seguente è una domanda a scelta multipla su {subject}. Si prega di rispondere solo con la "
               "lettera (A, B, C o D) corrispondente alla risposta corretta, senza alcuna spiegazione aggiuntiva.",
    "afrikaans": "Die volgende is 'n meervoudige keuse vraag oor {subject}. Antwoord asseblief slegs met die "
                 "letter (A, B, C of D) wat ooreenstem met die korrekte antwoord, sonder enige bykomende "
                 "verduideliking.",
    "portuguese": "A seguir está uma questão de múltipla escolha sobre {subject}. Por favor, responda apenas com "
                  "a letra (A, B, C ou D) correspondente à resposta correta, sem qualquer explicação adicional.",
}
M3EXAM_ANSWER_CUE: dict[str, str] = {
    "english": "Answer:", "chinese": "答案：", "vietnamese": "Câu trả lời:", "thai": "คำตอบ:",
    "italian": "La risposta:", "afrikaans": "Antwoord:", "portuguese": "Responder:",
}


def m3exam_prompt(language: str, subject_category: str, background: Sequence[str], question: str,
                  options: Sequence[str]) -> str:
    """M3Exam prompt in the exam's language; `question` already holds its `<image>` placeholder."""
    subjects = M3EXAM_SUBJECTS.get(language, M3EXAM_SUBJECTS["english"])
    subject = subjects.get(subject_category, subject_category)
    hint = M3EXAM_HINTS.get(language, M3EXAM_HINTS["english"]).format(subject=subject)
    context = "\n" + "\n".join(background) if background else ""
    option_lines = "\n".join(lettered(options, "({letter}) {option}"))
    cue = M3EXAM_ANSWER_CUE.get(language, "Answer:")
    return f"{hint}\n\n{context}\n{question}\n{option_lines}\n{cue}"
