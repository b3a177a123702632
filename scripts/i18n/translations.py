"""Source of the pages' translations (Russian, Tajik; English labels for codes).

Run `python scripts/i18n/translations.py` after changing the pages: it extracts the messages
and writes monitor_api/web/translations/<lang>/LC_MESSAGES/messages.po and .mo. A test checks
that every message has a translation in every language.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# code -> (en, ru, tg)
CODES = {
    "TJ-DU": ("Dushanbe", "Душанбе", "Душанбе"),
    "TJ-SU": ("Sughd", "Согдийская область", "Вилояти Суғд"),
    "TJ-KT": ("Khatlon", "Хатлонская область", "Вилояти Хатлон"),
    "TJ-GB": ("Gorno-Badakhshan", "ГБАО", "ВМКБ"),
    "TJ-RR": ("Districts of Republican Subordination", "Районы республиканского подчинения",
              "Ноҳияҳои тобеи ҷумҳурӣ"),
    "police_custody": ("Police custody (IVS)", "ИВС (полиция)", "Боздоштгоҳи муваққатӣ"),
    "pretrial_detention": ("Pre-trial detention (SIZO)", "СИЗО", "Тавқифгоҳ (СИЗО)"),
    "penal_colony": ("Penal colony", "Исправительная колония", "Колонияи ислоҳӣ"),
    "settlement_colony": ("Colony-settlement", "Колония-поселение", "Колония-маҳалла"),
    "prison": ("Prison", "Тюрьма", "Зиндон"),
    "juvenile_colony": ("Juvenile colony", "Воспитательная колония",
                        "Колонияи тарбиявӣ"),
    "prison_hospital": ("Prison hospital", "Тюремная больница", "Беморхонаи зиндон"),
    "psychiatric_hospital": ("Psychiatric hospital", "Психиатрическая больница",
                             "Беморхонаи равонӣ"),
    "narcology_centre": ("Narcology centre", "Наркологический центр", "Маркази наркологӣ"),
    "social_care_home": ("Social care home", "Дом-интернат", "Хонаи интернат"),
    "children_institution": ("Children's institution", "Детское учреждение",
                             "Муассисаи кӯдакон"),
    "military_disciplinary_unit": ("Military disciplinary unit", "Дисциплинарная воинская часть",
                                   "Қисми интизомии ҳарбӣ"),
    "security_service_detention": ("Security service detention", "Изолятор спецслужбы",
                                   "Тавқифгоҳи хадамоти амният"),
    "migrant_detention": ("Migrant detention", "Центр содержания мигрантов",
                          "Маркази нигоҳдории муҳоҷирон"),
    "other": ("Other", "Другое", "Дигар"),
    "ministry_of_justice": ("Ministry of Justice", "Министерство юстиции", "Вазорати адлия"),
    "ministry_of_interior": ("Ministry of Internal Affairs", "МВД", "Вазорати корҳои дохилӣ"),
    "state_security": ("State Committee for National Security", "ГКНБ",
                       "Кумитаи давлатии амнияти миллӣ"),
    "ministry_of_defence": ("Ministry of Defence", "Министерство обороны", "Вазорати мудофиа"),
    "ministry_of_health_social": ("Ministry of Health and Social Protection",
                                  "Министерство здравоохранения и соцзащиты",
                                  "Вазорати тандурустӣ ва ҳифзи иҷтимоӣ"),
    "ministry_of_education": ("Ministry of Education", "Министерство образования",
                              "Вазорати маориф"),
    "drug_control_agency": ("Drug Control Agency", "Агентство по контролю за наркотиками",
                            "Агентии назорати маводи мухаддир"),
    "admin": ("administrator", "администратор", "маъмур"),
    "coordinator": ("coordinator", "координатор", "ҳамоҳангсоз"),
    "monitor": ("monitor", "мониторщик", "мониторгар"),
    "partner": ("Ombudsman partner", "партнёр (Омбудсмен)", "шарик (Ваколатдор)"),
    "analyst": ("analyst", "аналитик", "таҳлилгар"),
    "legal_aid": ("legal aid", "юридическая помощь", "ёрии ҳуқуқӣ"),
    "planned": ("planned", "запланирован", "ба нақша гирифта"),
    "in_progress": ("in progress", "идёт", "дар ҷараён"),
    "submitted": ("submitted", "сдан", "супорида"),
    "reviewed": ("reviewed", "проверен", "санҷида"),
    "reported": ("published", "опубликован", "нашр шуда"),
    "in_depth": ("in-depth", "углублённый", "амиқ"),
    "thematic": ("thematic", "тематический", "мавзӯӣ"),
    "follow_up": ("follow-up", "повторный", "пайгирӣ"),
    "reactive": ("reactive", "реагирующий", "вокунишӣ"),
    "critical_urgent": ("critical, urgent", "критично, срочно", "ҷиддӣ, фаврӣ"),
    "serious": ("serious", "серьёзно", "вазнин"),
    "moderate": ("moderate", "умеренно", "миёна"),
    "minor": ("minor", "незначительно", "ночиз"),
    "good_practice": ("good practice", "хорошая практика", "таҷрибаи нек"),
    "draft": ("draft", "черновик", "лоиҳа"),
    "confirmed": ("confirmed", "подтверждено", "тасдиқ шуда"),
    "withdrawn": ("withdrawn", "отозвано", "бозхонда"),
    "implemented": ("implemented", "выполнена", "иҷро шуд"),
    "partially_implemented": ("partially implemented", "выполнена частично",
                              "қисман иҷро шуд"),
    "not_implemented": ("not implemented", "не выполнена", "иҷро нашуд"),
    "counteracted": ("counteracted", "сделано обратное", "зидди он амал шуд"),
    "no_longer_relevant": ("no longer relevant", "утратила актуальность", "аҳамият надорад"),
    "not reviewed yet": ("not reviewed yet", "ещё не проверялась", "ҳанӯз санҷида нашуд"),
    "treatment": ("Treatment", "Обращение", "Муносибат"),
    "safeguards": ("Safeguards", "Гарантии", "Кафолатҳо"),
    "material_conditions": ("Material conditions", "Материальные условия", "Шароити моддӣ"),
    "regime_activities": ("Regime and activities", "Режим и занятия", "Низом ва машғулият"),
    "health_care": ("Health care", "Медицинская помощь", "Ёрии тиббӣ"),
    "personnel": ("Personnel", "Персонал", "Кормандон"),
    "women": ("Women", "Женщины", "Занон"),
    "children": ("Children", "Дети", "Кӯдакон"),
    "observation": ("observation", "наблюдение", "мушоҳида"),
    "detainee": ("detainee", "задержанный", "боздоштшуда"),
    "staff": ("staff", "персонал", "корманд"),
    "management": ("management", "администрация", "роҳбарият"),
    "document": ("document", "документ", "ҳуҷҷат"),
    "cell": ("cell", "камера", "камера"),
    "dormitory": ("dormitory", "общежитие", "хобгоҳ"),
    "disciplinary_cell": ("disciplinary cell", "ШИЗО", "камераи интизомӣ"),
    "medical": ("medical room", "медпункт", "утоқи тиббӣ"),
    "visiting": ("visiting room", "комната свиданий", "утоқи мулоқот"),
    "refused": ("refused", "отказ", "рад шуд"),
    "delayed": ("delayed", "задержка", "таъхир"),
    "restricted": ("restricted", "ограничение", "маҳдуд"),
    "pending": ("pending", "ожидает", "интизор"),
    "accepted": ("accepted", "принято", "қабул шуд"),
    "fixed": ("fixed", "исправлено", "ислоҳ шуд"),
    "discarded": ("discarded", "отклонено", "рад карда шуд"),
    "superseded": ("superseded", "заменено", "иваз шуд"),
    "tj_law": ("Tajik law", "закон РТ", "қонуни ҶТ"),
    "cpt": ("CPT", "ЕКПП", "КАШ"),
    "icrc": ("ICRC", "МККК", "КБСС"),
    "declared": ("declared", "заявлено", "эълоншуда"),
    "official": ("official", "официально", "расмӣ"),
    "population_total": ("Population", "Численность", "Шумора"),
    "occupancy_rate": ("Occupancy", "Заполненность", "Пуршавӣ"),
    "space_min_m2": ("Minimum m² per person", "Минимум м² на человека",
                     "Ҳадди ақал м² ба як нафар"),
    "space_median_m2": ("Median m² per person", "Медиана м² на человека",
                        "Миёнаи м² ба як нафар"),
    "rooms_below_tj_law": ("Rooms under Tajik law's 4 m²", "Камер ниже 4 м² (закон РТ)",
                           "Камераҳо камтар аз 4 м² (қонуни ҶТ)"),
    "rooms_below_cpt": ("Rooms under the CPT standard", "Камер ниже стандарта ЕКПП",
                        "Камераҳо камтар аз стандарти КАШ"),
    "rooms_below_icrc": ("Rooms under the ICRC standard", "Камер ниже стандарта МККК",
                         "Камераҳо камтар аз стандарти КБСС"),
    "compliance_rate": ("Compliance", "Соответствие", "Мутобиқат"),
    "findings_total": ("Findings", "Выводы", "Хулосаҳо"),
    "access_incidents_total": ("Access incidents", "Инциденты доступа", "Ҳодисаҳои дастрасӣ"),
    "recommendations_open": ("Open recommendations", "Открытые рекомендации",
                             "Тавсияҳои кушода"),
    "recommendations_repeated": ("Repeated recommendations", "Повторные рекомендации",
                                 "Тавсияҳои такрорӣ"),
    "implementation_rate": ("Implementation rate", "Доля выполнения", "Ҳиссаи иҷро"),
    "findings": ("Findings", "Выводы", "Хулосаҳо"),
}

# message -> (ru, tg)
MESSAGES = {
    "Published: partners and analysts now see this visit.": (
        "Опубликовано: партнёры и аналитики теперь видят этот визит.",
        "Нашр шуд: шарикон ва таҳлилгарон акнун ин боздидро мебинанд."),
    "Unpublished.": ("Публикация снята.", "Нашр бекор шуд."),
    "Status changed.": ("Статус изменён.", "Ҳолат иваз шуд."),
    "Finding updated.": ("Вывод обновлён.", "Хулоса нав шуд."),
    "Say why the record is discarded.": ("Укажите, почему запись отклоняется.",
                                         "Нависед, ки чаро сабт рад карда мешавад."),
    "The corrected record is not valid JSON.": ("Исправленная запись — не корректный JSON.",
                                                "Сабти ислоҳшуда JSON-и дуруст нест."),
    "The corrected record must be a JSON object.": (
        "Исправленная запись должна быть JSON-объектом.",
        "Сабти ислоҳшуда бояд объекти JSON бошад."),
    "Quarantined record: %(action)s done.": ("Запись из карантина: выполнено (%(action)s).",
                                             "Сабт аз карантин: иҷро шуд (%(action)s)."),
    "The form expired or was not sent from this site. Go back, reload and try again.": (
        "Форма устарела или отправлена не с этого сайта. Вернитесь, обновите страницу и "
        "попробуйте снова.",
        "Шакл кӯҳна шуд ё на аз ин сомона фиристода шуд. Баргардед, саҳифаро нав кунед ва "
        "боз кӯшиш кунед."),
    "Monitoring": ("Мониторинг", "Мониторинг"),
    "Skip to content": ("Перейти к содержанию", "Гузаштан ба мундариҷа"),
    "Main": ("Главное меню", "Менюи асосӣ"),
    "Facilities": ("Учреждения", "Муассисаҳо"),
    "Recommendations": ("Рекомендации", "Тавсияҳо"),
    "Statistics": ("Статистика", "Омор"),
    "Exports": ("Выгрузки", "Содирот"),
    "Visits": ("Визиты", "Боздидҳо"),
    "Quarantine": ("Карантин", "Карантин"),
    "Language": ("Язык", "Забон"),
    "Sign out": ("Выйти", "Баромадан"),
    "Data about people deprived of their liberty: handle with care.": (
        "Данные о людях, лишённых свободы: обращайтесь с ними бережно.",
        "Маълумот дар бораи шахсони аз озодӣ маҳрум: бо эҳтиёт муносибат кунед."),
    "Not allowed": ("Нет доступа", "Иҷозат нест"),
    "Not found": ("Не найдено", "Ёфт нашуд"),
    "Something is wrong": ("Что-то не так", "Чизе нодуруст аст"),
    "Back to the facilities": ("Назад к учреждениям", "Бозгашт ба муассисаҳо"),
    "official capacity": ("лимит наполнения", "иқтидори расмӣ"),
    "No published visit of this facility yet.": ("Опубликованных визитов пока нет.",
                                                 "Ҳанӯз боздиди нашршуда нест."),
    "Condition history": ("История условий", "Таърихи шароит"),
    "Occupancy (%% of capacity)": ("Заполненность (%% от лимита)", "Пуршавӣ (%% аз иқтидор)"),
    "Occupancy %%": ("Заполненность %%", "Пуршавӣ %%"),
    "Living space, m² per person, against the thresholds": (
        "Жилая площадь, м² на человека, и нормы", "Масоҳати истиқоматӣ, м² ба як нафар, ва меъёрҳо"),
    "Minimum": ("Минимум", "Ҳадди ақал"),
    "Median": ("Медиана", "Миёна"),
    "Compliance by section (%%)": ("Соответствие по разделам (%%)",
                                   "Мутобиқат аз рӯи бахшҳо (%%)"),
    "Findings by severity": ("Выводы по серьёзности", "Хулосаҳо аз рӯи вазнинӣ"),
    "What changed since the last visit": ("Что изменилось с прошлого визита",
                                          "Аз боздиди қаблӣ чӣ тағйир ёфт"),
    "Visit of %(date)s": ("Визит %(date)s", "Боздиди %(date)s"),
    "not published": ("не опубликован", "нашр нашудааст"),
    "Indicator": ("Показатель", "Нишондиҳанда"),
    "Before": ("Было", "Пештар"),
    "Now": ("Стало", "Ҳозир"),
    "Change": ("Изменение", "Тағйир"),
    "Nothing changed, or this is the first visit.": ("Ничего не изменилось, или это первый визит.",
                                                     "Чизе тағйир наёфт ё ин боздиди аввал аст."),
    "Date": ("Дата", "Сана"),
    "Occupancy": ("Заполненность", "Пуршавӣ"),
    "Min m²/person": ("Мин. м²/чел.", "Ҳадди ақал м²/нафар"),
    "Rooms under 4 m²": ("Камер ниже 4 м²", "Камераҳо камтар аз 4 м²"),
    "Compliance": ("Соответствие", "Мутобиқат"),
    "Findings": ("Выводы", "Хулосаҳо"),
    "Published": ("Опубликован", "Нашр шуда"),
    "yes": ("да", "ҳа"),
    "no": ("нет", "не"),
    "review": ("проверить", "санҷидан"),
    "repeated: %(n)s visits": ("повторяется: %(n)s визита", "такрор: %(n)s боздид"),
    "No recommendations.": ("Рекомендаций нет.", "Тавсия нест."),
    "Photos": ("Фотографии", "Суратҳо"),
    "Photo from the visit of %(date)s": ("Фото с визита %(date)s", "Сурат аз боздиди %(date)s"),
    "No photos cleared for publication.": ("Нет фото, разрешённых к публикации.",
                                           "Сурати барои нашр иҷозатдодашуда нест."),
    "Sign in": ("Вход", "Даромадан"),
    "Username": ("Имя пользователя", "Номи корбар"),
    "Password": ("Пароль", "Рамз"),
    "Places of detention": ("Места лишения свободы", "Ҷойҳои маҳрум аз озодӣ"),
    "Region": ("Регион", "Минтақа"),
    "All": ("Все", "Ҳама"),
    "Type": ("Тип", "Навъ"),
    "Authority": ("Ведомство", "Идора"),
    "Search": ("Поиск", "Ҷустуҷӯ"),
    "Markers show": ("Маркеры показывают", "Аломатҳо нишон медиҳанд"),
    "Latest occupancy": ("Последнюю заполненность", "Пуршавии охирин"),
    "Open recommendations": ("Открытые рекомендации", "Тавсияҳои кушода"),
    "Filter": ("Показать", "Филтр"),
    "Map of the facilities": ("Карта учреждений", "Харитаи муассисаҳо"),
    "Colour: green under capacity, amber up to 120 %%, red above; grey: no published visit.": (
        "Цвет: зелёный — в пределах лимита, жёлтый — до 120 %%, красный — выше; серый — нет "
        "опубликованного визита.",
        "Ранг: сабз — дар ҳудуди иқтидор, зард — то 120 %%, сурх — зиёдтар; хокистарӣ — "
        "боздиди нашршуда нест."),
    "List": ("Список", "Рӯйхат"),
    "Code": ("Код", "Рамз"),
    "Name": ("Название", "Ном"),
    "Capacity": ("Лимит", "Иқтидор"),
    "Records sync refused": ("Записи, отклонённые синхронизацией",
                             "Сабтҳое, ки ҳамоҳангсозӣ рад кард"),
    "Status": ("Статус", "Ҳолат"),
    "records": ("записей", "сабт"),
    "received": ("получено", "қабул шуд"),
    "sent %(n)s times": ("отправлено %(n)s раз", "%(n)s маротиба фиристода шуд"),
    "The record as sent": ("Запись, как её прислали", "Сабт, чунон ки фиристода шуд"),
    "Accept as sent": ("Принять как есть", "Чунон ки ҳаст қабул кардан"),
    "Corrected record (JSON)": ("Исправленная запись (JSON)", "Сабти ислоҳшуда (JSON)"),
    "Apply the correction": ("Применить исправление", "Ислоҳро татбиқ кардан"),
    "Reason": ("Причина", "Сабаб"),
    "Discard": ("Отклонить", "Рад кардан"),
    "Nothing here.": ("Здесь пусто.", "Ин ҷо холӣ аст."),
    "Visit report": ("Отчёт о визите", "Ҳисобот дар бораи боздид"),
    "announced": ("объявленный", "эълоншуда"),
    "unannounced": ("необъявленный", "эълоннашуда"),
    "joint with the Ombudsman": ("совместно с Омбудсменом", "якҷоя бо Ваколатдор"),
    "Draft: not published.": ("Черновик: не опубликован.", "Лоиҳа: нашр нашудааст."),
    "Key figures": ("Основные показатели", "Рақамҳои асосӣ"),
    "Living space": ("Жилая площадь", "Масоҳати истиқоматӣ"),
    "minimum": ("минимум", "ҳадди ақал"),
    "median": ("медиана", "миёна"),
    "rooms below": ("камер ниже нормы", "камераҳо камтар аз меъёр"),
    "Access incidents": ("Инциденты доступа", "Ҳодисаҳои дастрасӣ"),
    "minutes lost": ("минут потеряно", "дақиқа гум шуд"),
    "repeated": ("повторная", "такрорӣ"),
    "Rooms": ("Помещения", "Ҳуҷраҳо"),
    "Room": ("Помещение", "Ҳуҷра"),
    "m² per person": ("м² на человека", "м² ба як нафар"),
    "Below": ("Ниже нормы", "Камтар аз меъёр"),
    "Visit review": ("Проверка визита", "Санҷиши боздид"),
    "status": ("статус", "ҳолат"),
    "published": ("опубликован", "нашр шуд"),
    "Printable report": ("Отчёт для печати", "Ҳисобот барои чоп"),
    "Mark as reviewed": ("Отметить как проверенный", "Ҳамчун санҷидашуда қайд кардан"),
    "Send back to the team": ("Вернуть команде", "Ба гурӯҳ баргардондан"),
    "Publish": ("Опубликовать", "Нашр кардан"),
    "Unpublish": ("Снять с публикации", "Нашрро бекор кардан"),
    "Answers": ("Ответы", "Ҷавобҳо"),
    "Question": ("Вопрос", "Савол"),
    "Standards": ("Стандарты", "Стандартҳо"),
    "Source": ("Источник", "Манбаъ"),
    "Answer": ("Ответ", "Ҷавоб"),
    "Rule": ("Правило", "Қоида"),
    "Complies": ("Соответствует", "Мутобиқ аст"),
    "No answers synced yet.": ("Ответы ещё не синхронизированы.", "Ҷавобҳо ҳанӯз ҳамоҳанг нашудаанд."),
    "Kind": ("Вид", "Намуд"),
    "Area m²": ("Площадь м²", "Масоҳат м²"),
    "Occupants": ("Человек", "Сокинон"),
    "No rooms measured.": ("Помещения не измерялись.", "Ҳуҷраҳо чен карда нашудаанд."),
    "Confirm": ("Подтвердить", "Тасдиқ кардан"),
    "Withdraw": ("Отозвать", "Бозхондан"),
    "No findings.": ("Выводов нет.", "Хулоса нест."),
    "Annual statistics": ("Годовая статистика", "Омори солона"),
    "Year": ("Год", "Сол"),
    "Show": ("Показать", "Нишон додан"),
    "%(n)s visits to %(f)s facilities": ("%(n)s визитов в %(f)s учреждений",
                                         "%(n)s боздид ба %(f)s муассиса"),
    "%(n)s unpublished included": ("включая %(n)s неопубликованных",
                                   "аз ҷумла %(n)s нашрнашуда"),
    "By facility type": ("По типу учреждения", "Аз рӯи навъи муассиса"),
    "By region": ("По регионам", "Аз рӯи минтақаҳо"),
    "By visit type": ("По виду визита", "Аз рӯи навъи боздид"),
    "Count": ("Количество", "Шумора"),
    "Minutes lost": ("Потеряно минут", "Дақиқаҳои гумшуда"),
    "None recorded.": ("Не зафиксировано.", "Сабт нашудааст."),
    "Implementation of recommendations, by authority": (
        "Выполнение рекомендаций по ведомствам", "Иҷрои тавсияҳо аз рӯи идораҳо"),
    "Reviewed": ("Проверено", "Санҷида шуд"),
    "Implemented": ("Выполнено", "Иҷро шуд"),
    "Partially": ("Частично", "Қисман"),
    "Rate": ("Доля", "Ҳисса"),
    "No follow-up reviews this year.": ("В этом году повторных проверок не было.",
                                        "Имсол санҷиши такрорӣ набуд."),
    "Recommendations made: %(n)s, open: %(o)s, repeated: %(r)s": (
        "Дано рекомендаций: %(n)s, открытых: %(o)s, повторных: %(r)s",
        "Тавсияҳо дода шуд: %(n)s, кушода: %(o)s, такрорӣ: %(r)s"),
    "Recommendation tracker": ("Отслеживание рекомендаций", "Пайгирии тавсияҳо"),
    "Addressed to": ("Адресат", "Ба кӣ равона"),
    "Open only": ("Только открытые", "Танҳо кушода"),
    "Implementation rate": ("Доля выполнения", "Ҳиссаи иҷро"),
    "%(i)s implemented, %(p)s partially, of %(n)s reviewed": (
        "выполнено %(i)s, частично %(p)s, из %(n)s проверенных",
        "иҷро шуд %(i)s, қисман %(p)s, аз %(n)s санҷидашуда"),
    "Not reviewed yet.": ("Ещё не проверялись.", "Ҳанӯз санҷида нашудааст."),
    "Facility": ("Учреждение", "Муассиса"),
    "Recommendation": ("Рекомендация", "Тавсия"),
    "Repeated": ("Повторялась", "Такрор"),
    "Latest status": ("Последний статус", "Ҳолати охирин"),
    "Visits of your teams": ("Визиты ваших команд", "Боздидҳои гурӯҳҳои шумо"),
    "No visits.": ("Визитов нет.", "Боздид нест."),
    "visits": ("визитов", "боздид"),
}


def main() -> int:
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po, write_po

    pot = ROOT / "var" / "messages.pot"
    pot.parent.mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract",
                    "-F", "monitor_api/web/babel.cfg", "-k", "_", "-k", "gettext", "-k", "N_",
                    "--omit-header", "-o", str(pot), "."], cwd=ROOT, check=True,
                   capture_output=True)
    template = read_po(pot.open("rb"))
    missing = []
    for lang, index in (("en", 0), ("ru", 1), ("tg", 2)):
        cat = Catalog(locale=lang, project="monitor-api", fuzzy=False)
        for msg in template:
            if not msg.id:
                continue
            if msg.id in CODES:
                text = CODES[msg.id][index]
            elif lang == "en":
                continue  # English messages are their own translation
            elif msg.id in MESSAGES:
                text = MESSAGES[msg.id][index - 1]
            else:
                missing.append((lang, msg.id))
                continue
            cat.add(msg.id, text, locations=msg.locations)
        out = ROOT / "monitor_api" / "web" / "translations" / lang / "LC_MESSAGES"
        out.mkdir(parents=True, exist_ok=True)
        with (out / "messages.po").open("wb") as f:
            write_po(f, cat, omit_header=False, sort_output=True, no_location=True)
        with (out / "messages.mo").open("wb") as f:
            write_mo(f, cat)
    for lang, msgid in missing:
        print(f"missing {lang}: {msgid!r}", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
